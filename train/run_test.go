package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestRunnerInterruptSavesAndResumes: cancelling the run (what SIGINT does)
// saves a checkpoint and returns cleanly; a new run resumes from it.
func TestRunnerInterruptSavesAndResumes(t *testing.T) {
	out := t.TempDir()
	tr, _ := newTestTrainer(t, testOptions(8), false)
	ctx, cancel := context.WithCancel(context.Background())
	var log bytes.Buffer
	r := &Runner{Trainer: tr, OutDir: out, PreviewEvery: 1, Out: &log,
		Preview: func(step int) (string, error) {
			if step == 3 {
				cancel()
			}
			return "", nil
		}}
	sum, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != "interrupted" || sum.EndStep != 3 || filepath.Base(sum.LastCheckpoint) != "step-000003" {
		t.Fatalf("summary %+v", sum)
	}
	recs, _ := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if len(recs) != 3 {
		t.Errorf("%d metrics records, want 3", len(recs))
	}
	tr2, _ := newTestTrainer(t, testOptions(8), false)
	if err := tr2.LoadCheckpoint(sum.LastCheckpoint); err != nil {
		t.Fatal(err)
	}
	r2 := &Runner{Trainer: tr2, OutDir: out, SaveEvery: 2, KeepLast: 2, Out: &log}
	sum2, err := r2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum2.StartStep != 3 || sum2.EndStep != 8 || sum2.Stopped != "" {
		t.Errorf("resumed summary %+v", sum2)
	}
	recs, _ = ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if len(recs) != 8 || recs[7].Step != 8 {
		t.Errorf("metrics after resume: %d records", len(recs))
	}
	cks, _ := ListCheckpoints(filepath.Join(out, "checkpoints"))
	if len(cks) != 2 || filepath.Base(cks[1]) != "step-000008" {
		t.Errorf("checkpoints %v (keep last 2)", cks)
	}
	if _, err := os.Stat(filepath.Join(out, "loss.png")); err != nil {
		t.Errorf("no loss curve: %v", err)
	}
}

// TestRunnerFullDiskKeepsPreviousCheckpoint: a save that fails midway (as
// on a full disk) leaves the previous checkpoint intact and loadable.
func TestRunnerFullDiskKeepsPreviousCheckpoint(t *testing.T) {
	out := t.TempDir()
	tr, _ := newTestTrainer(t, testOptions(4), false)
	for i := 0; i < 2; i++ {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(out, "checkpoints")
	good, err := tr.SaveCheckpoint(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	writeTensorsFn = func(path string, names []string, ts []*tensors.Tensor, meta map[string]string) error {
		if strings.HasSuffix(path, "optimizer.safetensors") {
			return syscall.ENOSPC
		}
		return writeTensors(path, names, ts, meta)
	}
	defer func() { writeTensorsFn = writeTensors }()
	if _, err := tr.SaveCheckpoint(root, ""); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("want ENOSPC, got %v", err)
	}
	cks, _ := ListCheckpoints(root)
	if len(cks) != 1 || cks[0] != good {
		t.Fatalf("checkpoints after failed save: %v", cks)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("leftovers after failed save: %v", entries)
	}
	tr2, _ := newTestTrainer(t, testOptions(4), false)
	if err := tr2.LoadCheckpoint(good); err != nil || tr2.StepsDone() != 2 {
		t.Fatalf("previous checkpoint unusable: step %d, %v", tr2.StepsDone(), err)
	}
}

// TestRunnerNaNStops: a NaN loss stops the run with a message naming the
// last good checkpoint.
func TestRunnerNaNStops(t *testing.T) {
	out := t.TempDir()
	tr, _ := newTestTrainer(t, testOptions(6), false)
	src := tr.src.(*MemorySource)
	r := &Runner{Trainer: tr, OutDir: out, SaveEvery: 2, PreviewEvery: 1, Out: &bytes.Buffer{},
		Preview: func(step int) (string, error) {
			if step == 3 {
				for i := range src.samples {
					src.samples[i].Latent[0] = float32(math.Inf(1))
				}
			}
			return "", nil
		}}
	sum, err := r.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step-000002") {
		t.Fatalf("want ErrNonFinite naming step-000002, got %v", err)
	}
	if sum.Stopped != "non-finite loss" {
		t.Errorf("stopped = %q", sum.Stopped)
	}
}
