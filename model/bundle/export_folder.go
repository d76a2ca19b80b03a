package bundle

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
)

// writeFolder builds the folder dir with write, in a temporary folder next
// to it that is renamed to dir once complete. An existing dir must be an
// empty folder unless overwrite, which replaces it only after the new one
// is written.
func writeFolder(dir string, overwrite bool, write func(tmp string) error) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%s exists and is not a folder: choose another output folder", dir)
	case err == nil && !overwrite:
		if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
			return fmt.Errorf("%s exists and is not empty: choose another output folder, or remove it (--overwrite replaces it)", dir)
		}
	case err != nil && !os.IsNotExist(err):
		return fmt.Errorf("output folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating the parent of %s: %w", dir, err)
	}
	return fsutil.WriteFolderAtomic(dir, write)
}

// writeJSONFile writes data to path atomically, creating its folder.
func writeJSONFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data)
}
