package testutil

import (
	"os"
	"testing"
)

// WriteFile writes data to path (mode 0o644) and returns path; an error
// fails the test.
func WriteFile(tb testing.TB, path string, data []byte) string {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Symlink makes link a symbolic link to target and returns link; an error
// fails the test.
func Symlink(tb testing.TB, target, link string) string {
	tb.Helper()
	if err := os.Symlink(target, link); err != nil {
		tb.Fatal(err)
	}
	return link
}

// Link makes link a hard link to target and returns link; an error fails
// the test.
func Link(tb testing.TB, target, link string) string {
	tb.Helper()
	if err := os.Link(target, link); err != nil {
		tb.Fatal(err)
	}
	return link
}
