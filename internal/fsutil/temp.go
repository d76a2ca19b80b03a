package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Every temporary file or folder Flora writes next to its target is named
// "." + target's base name + ".tmp-" + digits (what os.CreateTemp puts for
// the "*"), so leftovers of a killed process are recognisable by name alone
// and never collide with real outputs.
const tempMarker = ".tmp-"

// tempPattern is the os.CreateTemp / os.MkdirTemp pattern for target base.
func tempPattern(base string) string { return "." + base + tempMarker + "*" }

// MkdirTempFor creates an empty temporary folder next to path, for a folder
// that is written in full and then renamed to path.
func MkdirTempFor(path string) (string, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), tempPattern(filepath.Base(path)))
	if err != nil {
		return "", fmt.Errorf("creating temporary folder for %s: %w", path, err)
	}
	return dir, nil
}

// TempNameFor returns an unused temporary name next to path, without
// creating anything (for moving path aside while it is replaced).
func TempNameFor(path string) string {
	base := filepath.Base(path)
	for n := time.Now().UnixNano(); ; n++ {
		p := filepath.Join(filepath.Dir(path), "."+base+tempMarker+strconv.FormatInt(n, 10))
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
	}
}

// TempTarget reports whether name (a base name) is one of Flora's temporary
// names, and if so the base name of the target it was written for.
func TempTarget(name string) (string, bool) {
	if !strings.HasPrefix(name, ".") {
		return "", false
	}
	i := strings.LastIndex(name, tempMarker)
	if i < 2 {
		return "", false
	}
	digits := name[i+len(tempMarker):]
	if digits == "" {
		return "", false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return name[1:i], true
}

// RemoveStaleTemps deletes the temporary files and folders Flora's writers
// leave in dir when a process is killed mid-write (only names TempTarget
// recognises; dir's subfolders are not searched) and returns their paths.
// A missing dir is not an error.
func RemoveStaleTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("looking for stale temporary files: %w", err)
	}
	var removed []string
	for _, e := range entries {
		if _, ok := TempTarget(e.Name()); !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			return removed, fmt.Errorf("removing stale temporary file: %w", err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// Resolve returns path as an absolute path with symbolic links resolved
// as far as it exists (the missing tail is appended as written), so two
// names of one place compare equal even before the place is created.
func Resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	existing, rest := abs, ""
	for {
		r, err := filepath.EvalSymlinks(existing)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
}

// Within reports whether path is dir or lies inside it, after Resolve.
func Within(path, dir string) (bool, error) {
	p, err := Resolve(path)
	if err != nil {
		return false, err
	}
	d, err := Resolve(dir)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(d, p)
	if err != nil {
		return false, nil
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)), nil
}

// WriteFolderAtomic builds the folder path with write, which fills a
// temporary folder next to path that is then renamed to path: readers see
// the old folder or the complete new one, never a half-written one. An
// existing path is replaced only once the new folder is complete (moved
// aside, and put back if the final rename fails); a failed write removes
// the temporary folder. The parent folder must exist.
func WriteFolderAtomic(path string, write func(tmp string) error) error {
	tmp, err := MkdirTempFor(path)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	old := ""
	if _, err := os.Stat(path); err == nil {
		old = TempNameFor(path)
		if err := os.Rename(path, old); err != nil {
			return fmt.Errorf("moving %s aside to replace it: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		if old != "" {
			os.Rename(old, path)
		}
		return fmt.Errorf("finishing %s: %w", path, err)
	}
	done = true
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}
