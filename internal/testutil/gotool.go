package testutil

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// GoTool returns the go command of the toolchain running the tests (else
// the one on PATH), skipping the test when there is none.
func GoTool(tb testing.TB) string {
	tb.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileRuns(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go tool")
	}
	return p
}

func fileRuns(p string) bool {
	_, err := exec.LookPath(p)
	return err == nil
}
