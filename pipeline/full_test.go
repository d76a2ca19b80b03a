package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/train"
)

// TestFullTraining: adapter.type full trains every transformer weight of
// the demo model: 4 steps straight and 2 steps + resume 2 record the same
// losses and export the same model, the export is a transformer checkpoint
// flux2.Load reads (every weight moved from its start), and it holds the
// checkpoint's weights.
func TestFullTraining(t *testing.T) {
	const demo = "../examples/tiny/train.yaml"
	run := func(out string, stopAfter int, resume string) {
		t.Helper()
		cfg, err := job.Load(demo, []string{"output.dir=" + out, "model.path=embedded:tiny", "adapter.type=full", "train.steps=4", "train.warmup_steps=1",
			"train.save_every=0", "sample.every=0", "output.formats=[comfy]", "train.lr=1e-3"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trainStoppingAfter(cfg, stopAfter, resume); err != nil && stopAfter == 0 {
			t.Fatal(err)
		}
	}
	straight, resumed := filepath.Join(t.TempDir(), "straight"), filepath.Join(t.TempDir(), "resumed")
	run(straight, 0, "")
	run(resumed, 2, "")
	run(resumed, 0, "auto")
	for i, dir := range []string{straight, resumed} {
		recs, err := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
		if err != nil || len(recs) != 4 {
			t.Fatalf("run %d: %d steps recorded (%v), want 4", i, len(recs), err)
		}
	}
	a, b := readAll(t, filepath.Join(straight, "tiny-demo.safetensors")), readAll(t, filepath.Join(resumed, "tiny-demo.safetensors"))
	be, _, err := backend.Select(testBackend())
	if err != nil {
		t.Fatal(err)
	}
	m, err := flux2.Load(be, filepath.Join(straight, "tiny-demo.safetensors"), flux2.LoadOptions{})
	if err != nil {
		t.Fatalf("the exported model does not load as a transformer: %v", err)
	}
	seed := uint64(20261124) // embedded:tiny's
	moved := 0
	for _, name := range m.Config.ParamNames() {
		if !equalFloats(a[name], b[name]) {
			t.Errorf("%s: resumed run exported other values than the straight run", name)
		}
		if !equalFloats(a[name], flux2.RandomWeight(name, m.Config.ParamShapes()[name], seed)) {
			moved++
		}
	}
	if n := len(m.Config.ParamNames()); moved != n {
		t.Errorf("%d of %d weights changed from their start; full training updates all", moved, n)
	}
}

// readAll reads every tensor of a safetensors file as float32 values.
func readAll(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		raw, err := f.Bytes(n)
		if err != nil {
			t.Fatal(err)
		}
		if out[n], err = weights.DecodeFloat32(info, raw); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// equalFloats reports whether two slices hold the same values.
func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFullTrainingRefusedAtFullSize: the plan refuses full training of the
// published variants with their numbers, and allows Flora's small models.
func TestFullTrainingRefusedAtFullSize(t *testing.T) {
	for _, tc := range []struct {
		variant string
		want    []string // in the error; none: allowed
	}{
		{"klein-4b", []string{"adapter.type full", "klein-4b", "GiB", "LoRA"}},
		{"dev", []string{"dev", "GiB"}},
		{"tiny", nil},
	} {
		v, err := flux2.VariantByName(tc.variant)
		if err != nil {
			t.Fatal(err)
		}
		p := train.EstimateMemory(train.MemoryPlanInput{Config: v.Config, ComputeBytes: 4, Resolution: 1024, TextTokens: 512, Batch: 1, FullTraining: true})
		if want := 16 * v.Config.NumParams(); p.BaseWeights+p.Adapter+p.Optimizer < want {
			t.Errorf("%s: weights+grads+optimizer %d bytes, want at least 16 per weight (%d)", tc.variant, p.BaseWeights+p.Adapter+p.Optimizer, want)
		}
		err = checkFullTraining(v, p)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.variant, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("%s: full training was not refused", tc.variant)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.variant, err, w)
			}
		}
	}
}
