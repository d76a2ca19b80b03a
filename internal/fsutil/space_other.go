//go:build !linux && !darwin

package fsutil

import (
	"errors"
	"fmt"
)

// FreeSpace returns the bytes available on the file system holding path;
// on this system it is unknown (errors.ErrUnsupported).
func FreeSpace(path string) (int64, error) {
	return 0, fmt.Errorf("free space of %s: %w", path, errors.ErrUnsupported)
}
