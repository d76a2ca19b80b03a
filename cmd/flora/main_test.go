package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/internal/version"
)

// runCLI runs one flora command line in-process and returns its exit code
// and outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// cliCase is one command line with the exit code it must give and text its
// stdout and stderr must contain.
type cliCase struct {
	args    []string
	code    int
	wantOut string
	wantErr string
}

// check runs the command line and reports each expectation it misses.
func (c cliCase) check(t *testing.T) (stdout, stderr string) {
	t.Helper()
	code, out, errs := runCLI(t, c.args...)
	if code != c.code {
		t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errs)
	}
	if !strings.Contains(out, c.wantOut) {
		t.Errorf("stdout lacks %q:\n%s", c.wantOut, out)
	}
	if !strings.Contains(errs, c.wantErr) {
		t.Errorf("stderr lacks %q:\n%s", c.wantErr, errs)
	}
	return out, errs
}

func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := testutil.WriteFile(t, filepath.Join(dir, "bad.yaml"), []byte("model:\n  path: m\ntrain:\n  lr: -1\n"))
	tests := []cliCase{
		{args: nil, code: 2, wantErr: "Usage: flora <command>"},
		{args: []string{"bogus"}, code: 2, wantErr: `flora: unknown command "bogus"`},
		{args: []string{"version"}, code: 0, wantOut: version.Software()},
		{args: []string{"--version"}, code: 0, wantOut: version.Software()},
		{args: []string{"version", "--bogus"}, code: 2, wantErr: "unknown flag: --bogus"},
		{args: []string{"version", "--help"}, code: 0, wantOut: "Usage: flora version"},
		{args: []string{"help"}, code: 0, wantOut: "Commands:"},
		{args: []string{"help", "config", "check"}, code: 0, wantOut: "--set"},
		{args: []string{"config"}, code: 2, wantErr: "Subcommands:"},
		{args: []string{"config", "nope"}, code: 2, wantErr: `unknown subcommand "nope"`},
		{args: []string{"config", "check"}, code: 2, wantErr: "expected one job config file"},
		{args: []string{"config", "check", bad}, code: 1, wantErr: "train.lr: must be a number in (0, 1], got -1"},
		{args: []string{"config", "check", bad, "--set", "train.lr=1e-4", "--set", "dataset.folders.0.path=d"}, code: 0, wantOut: "ok"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			tc.check(t)
		})
	}
}
