package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flora-ml/flora/pipeline"
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
			var r pipeline.BenchResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("stdout is not JSON: %v: %q", err, out)
			}
			want := pipeline.BenchResult{Variant: "embedded-tiny", Mode: tc.mode, Backend: "go", DType: "Float32", Quantize: "none", Batch: 1,
				ImageTokens: 4, TextTokens: 8, Parameters: 951168, Rank: tc.wantRank, LoRATargets: tc.wantTargets, LoRAParameters: tc.wantLoRA, Steps: 2, Attention: "blocked"}
			got := r
			got.FirstStepMS, got.MSPerStep, got.MinStepMS, got.GFLOPS, got.PeakRSSBytes, got.AttentionBlock = 0, 0, 0, 0, 0, 0
			got.BaselineRSSBytes, got.WarmRSSBytes, got.StepPeakRSSBytes, got.PlanBytes = 0, 0, 0, 0
			if r.BaselineRSSBytes < 1<<20 || r.WarmRSSBytes < 1<<20 || (r.StepPeakRSSBytes != 0 && r.StepPeakRSSBytes != r.PeakRSSBytes) {
				t.Errorf("memory: baseline %d, warm-up %d, step peak %d (peak %d) bytes", r.BaselineRSSBytes, r.WarmRSSBytes, r.StepPeakRSSBytes, r.PeakRSSBytes)
			}
			if (r.PlanBytes > 0) != (tc.mode == "train") {
				t.Errorf("%s: plan %d bytes (a plan is made for training steps only)", tc.mode, r.PlanBytes)
			}
			if r.AttentionBlock < 1 || r.AttentionBlock > 12 {
				t.Errorf("attention block %d not in [1, 12] (12 tokens)", r.AttentionBlock)
			}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if r.MSPerStep <= 0 || r.MinStepMS <= 0 || r.MinStepMS > r.MSPerStep*float64(r.Steps) || r.FirstStepMS <= 0 || r.GFLOPS <= 0 || r.PeakRSSBytes < 1<<20 {
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
		{"unknown kernel", []string{"--attention", "flash"}, 2, "", `--attention: attention kernel "flash" is not "blocked" or "plain"`},
		{"negative block", []string{"--attention-block", "-1"}, 2, "", "--attention-block: attention query block -1 must be >= 0"},
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
