package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// PathError is a failure to use a path, in words a user can act on:
// "x.yaml does not exist", "x: symbolic link loop", "x is a named pipe
// (FIFO), not a regular file". Unwrap gives the cause, so errors.Is still
// sees fs.ErrNotExist, syscall.ELOOP and the like.
type PathError struct {
	Path string
	Msg  string // follows Path: " does not exist", ": permission denied"
	Err  error
}

// Error returns the path followed by the message.
func (e *PathError) Error() string { return e.Path + e.Msg }

// Unwrap returns the underlying error.
func (e *PathError) Unwrap() error { return e.Err }

// Explain turns an error from the file system about path into a *PathError
// with a plain message (errors that are not about the file system, and nil,
// are returned as they are).
func Explain(path string, err error) error {
	var pe *PathError
	if err == nil || errors.As(err, &pe) {
		return err
	}
	var msg string
	switch {
	case errors.Is(err, syscall.ELOOP):
		msg = ": symbolic link loop (a link in the path leads back to itself)"
	case errors.Is(err, fs.ErrNotExist):
		msg = " does not exist"
	case errors.Is(err, fs.ErrPermission):
		msg = ": permission denied"
	case errors.Is(err, syscall.ENOTDIR):
		msg = ": a part of the path is a file, not a folder"
	case errors.Is(err, syscall.ENAMETOOLONG):
		msg = ": file name too long"
	default:
		var ope *fs.PathError
		if !errors.As(err, &ope) {
			return err
		}
		msg = ": " + ope.Err.Error()
	}
	return &PathError{Path: path, Msg: msg, Err: err}
}

// Stat is os.Stat (symbolic links followed) with errors from Explain.
func Stat(path string) (fs.FileInfo, error) {
	st, err := os.Stat(path)
	return st, Explain(path, err)
}

// fileKind names a file that is not a regular file ("" when unknown).
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return ""
}

// OpenRegular opens path for reading if it is a regular file (symbolic links
// followed); a folder, named pipe, device or socket is refused with an error
// saying which it is. It never blocks: a named pipe is opened non-blocking
// and closed again, so a FIFO named like an input cannot hang the program,
// and a device such as /dev/zero cannot feed it endless data.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, Explain(path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Explain(path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		msg := " is not a regular file"
		if kind := fileKind(st.Mode()); kind != "" {
			msg = " is " + kind + ", not a regular file"
		}
		return nil, &PathError{Path: path, Msg: msg, Err: ErrNotRegular}
	}
	return f, nil
}

// ErrNotRegular is the cause of OpenRegular's refusals.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is the cause of ReadFileLimited's refusals.
var ErrTooLarge = errors.New("file too large")

// ReadFileLimited reads the regular file at path (see OpenRegular), refusing
// one larger than limit bytes with an error naming the file, the limit and
// what (e.g. "a job config").
func ReadFileLimited(path string, limit int64, what string) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooLarge := &PathError{Path: path, Msg: fmt.Sprintf(": larger than %s, the limit for %s; is it the right file?", FormatSize(limit), what), Err: ErrTooLarge}
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, Explain(path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge
	}
	return data, nil
}

// FormatSize writes a byte count the way limits are stated: "64 MiB",
// "512 KiB", "100 bytes".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ErrOutputIsInput is the cause of CheckOutput's refusals.
var ErrOutputIsInput = errors.New("output is an input")

// CheckOutput refuses an output path that is one of the inputs: the same
// path, or another name for the same file or folder (through symbolic links,
// "..", or a hard link: compared by device and inode). Writing there would
// replace the input. An output that does not exist yet is never an input;
// inputs that cannot be found are skipped (their readers report them).
func CheckOutput(out string, inputs ...string) error {
	ost, err := os.Stat(out)
	if err != nil {
		return nil
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		ist, err := os.Stat(in)
		if err != nil || !os.SameFile(ost, ist) {
			continue
		}
		msg := fmt.Sprintf(" is the input %s", in)
		if filepath.Clean(out) == filepath.Clean(in) {
			msg = " is also an input"
		} else if !ost.IsDir() {
			msg += " under another name (a link to it or a hard link)"
		} else {
			msg += " under another name"
		}
		return &PathError{Path: out, Msg: msg + "; writing there would replace the input, choose another output path", Err: ErrOutputIsInput}
	}
	return nil
}

// MaxConfigJSONBytes bounds a model's config.json (diffusers, Hugging Face)
// read into memory; real ones are a few KiB.
const MaxConfigJSONBytes = 4 << 20
