package pipeline

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/train"
)

// TestDevicesAndResume: the demo trained 4 steps on one device, and trained
// 2 steps on 2 devices then resumed on 4 devices (batch 4: one sample
// each) for 2 more, record the same losses (rel ≤ 1e-5): checkpoints do not
// depend on the device count. Needs a backend with 4 devices (xla:cpu has
// 4 virtual ones).
func TestDevicesAndResume(t *testing.T) {
	be, _, err := backend.Select(testBackend())
	if err != nil {
		t.Fatal(err)
	}
	if be.NumDevices() < 4 {
		t.Skipf("backend %s has %d device(s); FLORA_TEST_BACKEND=xla:cpu gives 4", be.Name(), be.NumDevices())
	}
	const demo = "../examples/tiny/train.yaml"
	// run trains on devices until stopAfter steps (0: the end); a stop
	// cancels the run, which saves a checkpoint to resume from.
	run := func(out, devices string, stopAfter int, resume string) {
		t.Helper()
		cfg, err := job.Load(demo, []string{"output.dir=" + out, "train.steps=4", "train.warmup_steps=1", "train.save_every=0",
			"sample.every=0", "train.devices=" + devices})
		if err != nil {
			t.Fatal(err)
		}
		res, err := trainStoppingAfter(cfg, stopAfter, resume)
		if stopAfter > 0 && (res == nil || !res.Interrupted) {
			t.Fatalf("run on %s devices was not interrupted after step %d: %v", devices, stopAfter, err)
		}
		if stopAfter == 0 && err != nil {
			t.Fatal(err)
		}
	}
	one, split := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "split")
	run(one, "1", 0, "")
	run(split, "2", 2, "")
	run(split, "4", 0, "auto")
	want, err := train.ReadMetrics(filepath.Join(one, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := train.ReadMetrics(filepath.Join(split, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || len(want) != 4 {
		t.Fatalf("%d and %d steps recorded, want 4", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i].Loss-want[i].Loss) / want[i].Loss; d > 1e-5 {
			t.Errorf("step %d: loss %.9g over devices, %.9g on one (rel %.2g)", i+1, got[i].Loss, want[i].Loss, d)
		}
	}
}

// trainStoppingAfter trains cfg on the test backend (resuming when asked)
// and cancels the run once step stopAfter is done (0: runs to the end); a
// cancelled run saves a checkpoint to resume from.
func trainStoppingAfter(cfg *job.Config, stopAfter int, resume string) (*TrainResult, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := Reporter{Log: io.Discard, OnEvent: func(e Event) {
		if e.Kind == EventStep && e.Step == stopAfter {
			cancel()
		}
	}}
	return Train(ctx, cfg, RunOptions{Backend: testBackend(), Resume: resume, Reporter: rep})
}
