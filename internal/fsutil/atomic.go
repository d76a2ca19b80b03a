// Package fsutil holds file-system helpers shared by Flora's packages, chief
// among them atomic writes: a file is written to a temporary name in the same
// folder, synced, and renamed over the target, so readers (and a crash, or a
// full disk) never see a half-written file and the previous version survives
// a failed write.
package fsutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// AtomicFile is a file being written atomically. Write to it, then Commit;
// Abort (or a failed Commit) removes the temporary file and leaves the target
// untouched. Abort after Commit is a no-op, so `defer f.Abort()` is safe.
type AtomicFile struct {
	*os.File
	target string
	done   bool
}

// CreateAtomic starts writing path atomically, creating its folder if needed.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating folder for %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, tempPattern(filepath.Base(path)))
	if err != nil {
		return nil, fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	return &AtomicFile{File: f, target: path}, nil
}

// Commit flushes the data to disk and renames the file over its target.
func (f *AtomicFile) Commit() error {
	if f.done {
		return fmt.Errorf("%s: already committed or aborted", f.target)
	}
	f.done = true
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.target, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.target, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.target, err)
	}
	if err := os.Rename(tmp, f.target); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.target, err)
	}
	syncDir(filepath.Dir(f.target))
	return nil
}

// Abort discards the temporary file.
func (f *AtomicFile) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// WriteFileAtomic writes data to path atomically.
func WriteFileAtomic(path string, data []byte) error {
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic streams content produced by write into path atomically.
func WriteAtomic(path string, write func(w io.Writer) error) error {
	f, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// syncDir makes a rename durable; errors are ignored (not all file systems
// support syncing folders).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
