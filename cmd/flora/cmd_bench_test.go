package main

import (
	"strings"
	"testing"
)

// TestBenchAttentionFlags checks that flora bench refuses bad attention
// settings before any work, naming the flags, and runs and reports the
// chosen kernel and query block otherwise.
func TestBenchAttentionFlags(t *testing.T) {
	base := []string{"bench", "--variant", "tiny", "--mode", "forward", "--res", "32", "--text", "4", "--steps", "1", "--backend", "go"}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"unknown kernel", []string{"--attention", "flash"}, 2, "", `--attention/--attention-block: attention kernel "flash" is not "blocked" or "plain"`},
		{"negative block", []string{"--attention-block", "-1"}, 2, "", "--attention/--attention-block: attention query block -1 must be >= 0"},
		{"plain", []string{"--attention", "plain"}, 0, "base none, plain attention\n", ""},
		{"blocked, block 3 of 8 tokens", []string{"--attention-block", "3"}, 0, "blocked attention (query block 3)", ""},
		{"default: blocked, one automatic block", nil, 0, "blocked attention (query block 8)", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append(append([]string{}, base...), tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.wantOut) || !strings.Contains(errs, tc.wantErr) {
				t.Errorf("stdout %q lacks %q or stderr %q lacks %q", out, tc.wantOut, errs, tc.wantErr)
			}
			if tc.code != 0 && strings.Contains(errs, "backend:") {
				t.Errorf("bad flags reached backend selection:\n%s", errs)
			}
		})
	}
}
