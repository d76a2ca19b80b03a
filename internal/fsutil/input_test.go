package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestOpenRegular: regular files open; a FIFO (no writer: a blocking open
// would hang forever), a folder and /dev/zero are refused at once, saying
// what they are; a symbolic link loop and a missing file are named as such.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	file := testutil.WriteFile(t, filepath.Join(dir, "a.txt"), []byte("hello"))
	fifo := filepath.Join(dir, "pipe.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	testutil.Symlink(t, loop, loop)
	link := testutil.Symlink(t, file, filepath.Join(dir, "link.txt"))
	tests := []struct {
		path  string
		want  string // "" = opens
		cause error
	}{
		{file, "", nil},
		{link, "", nil},
		{fifo, fifo + " is a named pipe (FIFO), not a regular file", ErrNotRegular},
		{dir, dir + " is a folder, not a regular file", ErrNotRegular},
		{"/dev/zero", "/dev/zero is a character device, not a regular file", ErrNotRegular},
		{loop, loop + ": symbolic link loop", syscall.ELOOP},
		{filepath.Join(dir, "nope"), filepath.Join(dir, "nope") + " does not exist", fs.ErrNotExist},
		{filepath.Join(file, "x"), filepath.Join(file, "x") + ": a part of the path is a file, not a folder", syscall.ENOTDIR},
	}
	for _, tc := range tests {
		f, err := OpenRegular(tc.path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
				continue
			}
			b := make([]byte, 5)
			if n, _ := f.Read(b); string(b[:n]) != "hello" {
				t.Errorf("%s: read %q", tc.path, b[:n])
			}
			f.Close()
			continue
		}
		if err == nil {
			f.Close()
			t.Errorf("%s: opened, want %q", tc.path, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want prefix %q", tc.path, err, tc.want)
		}
		if !errors.Is(err, tc.cause) {
			t.Errorf("%s: error %v is not %v", tc.path, err, tc.cause)
		}
	}
}

// TestReadFileLimited: the limit is inclusive; above it (also for a device
// reporting size 0 that would stream forever) the error names the file,
// the limit and what it is.
func TestReadFileLimited(t *testing.T) {
	dir := t.TempDir()
	file := testutil.WriteFile(t, filepath.Join(dir, "job.yaml"), []byte("0123456789"))
	got, err := ReadFileLimited(file, 10, "a job config")
	if err != nil || string(got) != "0123456789" {
		t.Fatalf("got %q, %v", got, err)
	}
	_, err = ReadFileLimited(file, 9, "a job config")
	want := file + ": larger than 9 bytes, the limit for a job config"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrTooLarge) {
		t.Errorf("error %v, want prefix %q", err, want)
	}
	if _, err := ReadFileLimited("/dev/zero", 1<<20, "a job config"); err == nil || !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/zero: error %v, want not a regular file", err)
	}
	for n, want := range map[int64]string{1 << 20: "1 MiB", 64 << 10: "64 KiB", 3 << 30: "3 GiB", 1000: "1000 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCheckOutput: an output naming an input — directly, through "..", a
// symbolic link or a hard link — is refused; other outputs pass.
func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.safetensors")
	other := filepath.Join(dir, "other.safetensors")
	for _, p := range []string{in, other} {
		testutil.WriteFile(t, p, []byte("x"))
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	sym := testutil.Symlink(t, in, filepath.Join(dir, "sym.safetensors"))
	hard := testutil.Link(t, in, filepath.Join(dir, "hard.safetensors"))
	tests := []struct {
		out, want string // want "" = allowed
	}{
		{in, in + " is also an input"},
		{sub + "/../in.safetensors", sub + "/../in.safetensors is also an input"},
		{sym, sym + " is the input " + in + " under another name"},
		{hard, hard + " is the input " + in + " under another name"},
		{other, ""},
		{filepath.Join(dir, "new.safetensors"), ""},
		{sub, ""},
	}
	for _, tc := range tests {
		err := CheckOutput(tc.out, "", filepath.Join(dir, "missing"), in)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.out, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, ErrOutputIsInput) {
			t.Errorf("%s: error %v, want prefix %q", tc.out, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "choose another output path") {
			t.Errorf("%s: error %q gives no fix", tc.out, err)
		}
	}
	// A folder given as output and as input is refused too.
	if err := CheckOutput(sub+"/", sub); err == nil {
		t.Error("output folder = input folder accepted")
	}
}
