package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchJSON(t *testing.T) {
	tests := []struct {
		mode        string
		wantRank    int
		wantTargets int
		wantLoRA    int64
	}{
		{"forward", 0, 0, 0},
		// 2 double blocks × 8 layers + 2 single blocks × 2; rank·(in+out) each
		// (hidden 96, MLP 288): qkv 4·(96+288), proj 4·(96+96), mlp.0 4·(96+576),
		// mlp.2 4·(288+96) per stream; linear1 4·(96+864), linear2 4·(384+96).
		{"train", 4, 20, 2*2*4*(384+192+672+384) + 2*4*(960+480)},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			code, out, errOut := runCLI(t, "bench", "--variant", "embedded-tiny", "--mode", tc.mode, "--res", "32", "--text", "8",
				"--rank", "4", "--steps", "2", "--backend", "go", "--dtype", "f32", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if n := strings.Count(out, "\n"); n != 1 {
				t.Fatalf("want exactly one JSON line on stdout, got %d lines: %q", n, out)
			}
			var r benchResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("stdout is not JSON: %v: %q", err, out)
			}
			want := benchResult{Variant: "embedded-tiny", Mode: tc.mode, Backend: "go", DType: "Float32", Quantize: "none", Batch: 1,
				ImageTokens: 4, TextTokens: 8, Parameters: 951168, Rank: tc.wantRank, LoRATargets: tc.wantTargets, LoRAParameters: tc.wantLoRA, Steps: 2}
			got := r
			got.FirstStepMS, got.MSPerStep, got.GFLOPS, got.PeakRSSBytes = 0, 0, 0, 0
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if r.MSPerStep <= 0 || r.FirstStepMS <= 0 || r.GFLOPS <= 0 || r.PeakRSSBytes < 1<<20 {
				t.Errorf("measurements not filled in: %+v", r)
			}
		})
	}
	// Without --json the text report stays.
	code, out, errOut := runCLI(t, "bench", "--variant", "embedded-tiny", "--mode", "forward", "--res", "32", "--text", "8",
		"--steps", "1", "--backend", "go")
	if code != 0 || !strings.Contains(out, "embedded-tiny forward: batch 1, 4 image + 8 text tokens") || !strings.Contains(out, "per step:") {
		t.Errorf("text report: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
