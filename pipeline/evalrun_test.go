package pipeline

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data/synth"
	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/job"
)

// TestEvalRun: a 2-step run of the tiny demo, evaluated on two held-out
// prompts at two sampling steps, gets an eval.json with finite numbers,
// the adapter's and the base model's samples and style scores, and the
// validation loss measured on the demo's dataset.validation folder
// (examples/tiny/holdout), which eval.LoadRun reads back.
func TestEvalRun(t *testing.T) {
	const demo = "../examples/tiny/train.yaml"
	_, out := trainLosses(t, demo, "2", "sample.every=0")
	cfg, err := job.Load(demo, []string{"output.dir=" + out})
	if err != nil {
		t.Fatal(err)
	}
	holdout := filepath.Join("..", "examples", "tiny", "holdout")
	if cfg.Dataset.Validation != holdout {
		t.Fatalf("demo dataset.validation = %q, want %q", cfg.Dataset.Validation, holdout)
	}
	if _, err := EvalRun(context.Background(), cfg, EvalRunOptions{Adapter: filepath.Join(out, "missing.safetensors")}); err == nil {
		t.Error("missing adapter accepted")
	}
	prompts := synth.StylePrompts()[:2]
	res, err := EvalRun(context.Background(), cfg, EvalRunOptions{Prompts: prompts, Seed: 3, Steps: 2, Width: 64, Height: 64,
		Backend: testBackend(), Reporter: Reporter{Log: io.Discard}})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{"validation": res.ValidationLoss, "base": res.BaseValidationLoss,
		"style": res.StyleScore, "base style": res.BaseStyleScore} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (strings.Contains(name, "style") && v > 1) {
			t.Errorf("%s = %g", name, v)
		}
	}
	if res.ValidationSet != holdout {
		t.Errorf("validation_set = %q, want %q", res.ValidationSet, holdout)
	}
	if want := []string{"eval/base/00-seed3.png", "eval/base/01-seed3.png"}; !slices.Equal(res.BaseSamples, want) {
		t.Errorf("base samples %v, want %v", res.BaseSamples, want)
	}
	r, err := eval.LoadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Eval == nil || len(r.Eval.Samples) != 2 || r.Eval.ValidationLoss != res.ValidationLoss || r.AdapterBytes == 0 ||
		r.Eval.BaseStyleScore != res.BaseStyleScore || r.Eval.ValidationSet != holdout {
		t.Fatalf("run read back: %+v, eval %+v", r, r.Eval)
	}
	for _, s := range append(r.Eval.Samples, r.Eval.BaseSamples...) {
		if _, err := os.Stat(filepath.Join(out, s)); err != nil {
			t.Error(err)
		}
	}
}
