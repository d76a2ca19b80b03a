//go:build linux || darwin

package fsutil

import (
	"fmt"
	"syscall"
)

// FreeSpace returns the bytes available to this user on the file system
// holding path (which must exist).
func FreeSpace(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), nil //nolint:unconvert // field types differ by OS
}
