package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/model/weights"
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
	runSteps(t, tr, 2)
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
		return weights.WriteTensors(path, names, ts, meta)
	}
	defer func() { writeTensorsFn = weights.WriteTensors }()
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

// TestRunnerResumeContinuesMetrics: a run interrupted at step 3 and resumed
// writes the same loss_smooth column as an uninterrupted run, and its time
// column does not restart at the resume.
func TestRunnerResumeContinuesMetrics(t *testing.T) {
	straight := t.TempDir()
	tr, _ := newTestTrainer(t, testOptions(8), false)
	if _, err := (&Runner{Trainer: tr, OutDir: straight, Out: &bytes.Buffer{}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, err := ReadMetrics(filepath.Join(straight, "metrics.jsonl"))
	if err != nil || len(want) != 8 {
		t.Fatalf("straight run: %d records, %v", len(want), err)
	}

	out := t.TempDir()
	tr, _ = newTestTrainer(t, testOptions(8), false)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Trainer: tr, OutDir: out, PreviewEvery: 1, Out: &bytes.Buffer{},
		Preview: func(step int) (string, error) {
			if step == 3 {
				cancel()
			}
			return "", nil
		}}
	sum, err := r.Run(ctx)
	if err != nil || sum.EndStep != 3 {
		t.Fatalf("interrupted run: %+v %v", sum, err)
	}
	tr2, _ := newTestTrainer(t, testOptions(8), false)
	if err := tr2.LoadCheckpoint(sum.LastCheckpoint); err != nil {
		t.Fatal(err)
	}
	if tr2.elapsed <= 0 {
		t.Errorf("checkpoint restored elapsed time %v, want > 0", tr2.elapsed)
	}
	if _, err := (&Runner{Trainer: tr2, OutDir: out, Out: &bytes.Buffer{}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil || len(got) != 8 {
		t.Fatalf("resumed run: %d records, %v", len(got), err)
	}
	for i := range want {
		if math.Abs(got[i].LossSmooth-want[i].LossSmooth) > 1e-6*math.Max(1, want[i].LossSmooth) {
			t.Errorf("step %d: loss_smooth %.9g after resume, %.9g uninterrupted", i+1, got[i].LossSmooth, want[i].LossSmooth)
		}
		if i > 0 && got[i].Time < got[i-1].Time {
			t.Errorf("step %d: time %.4f s went back from %.4f s at the resume", i+1, got[i].Time, got[i-1].Time)
		}
	}
}

// failSavesFrom makes checkpoint saves of step >= from fail with ENOSPC
// (as on a full disk) and counts the failed attempts.
func failSavesFrom(t *testing.T, from int, attempts *int) {
	t.Helper()
	writeTensorsFn = func(path string, names []string, ts []*tensors.Tensor, meta map[string]string) error {
		var step int
		if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(path)), ".step-%06d", &step); err == nil && step >= from {
			if strings.HasSuffix(path, "adapter.safetensors") {
				*attempts++
			}
			return syscall.ENOSPC
		}
		return weights.WriteTensors(path, names, ts, meta)
	}
	t.Cleanup(func() { writeTensorsFn = weights.WriteTensors })
}

// TestRunnerStopsOnFailedSave: a periodic checkpoint save that fails twice
// (full disk) stops the run at once with an error naming the checkpoint, the
// free space and the last good checkpoint, which stays; the adapter trained
// so far is exported before giving up.
func TestRunnerStopsOnFailedSave(t *testing.T) {
	out := t.TempDir()
	tr, _ := newTestTrainer(t, testOptions(8), false)
	attempts := 0
	failSavesFrom(t, 4, &attempts)
	var exported []int
	r := &Runner{Trainer: tr, OutDir: out, SaveEvery: 2, Out: &bytes.Buffer{},
		Export: func(dir string, step int) ([]string, error) {
			exported = append(exported, step)
			return []string{filepath.Join(dir, "a.safetensors")}, nil
		}}
	sum, err := r.Run(context.Background())
	if err == nil {
		t.Fatal("run went on after a failed save")
	}
	root := filepath.Join(out, "checkpoints")
	for _, want := range []string{filepath.Join(root, "step-000004"), "no space left on device", " free in " + root,
		"training stopped at step 4", "the last good checkpoint is " + filepath.Join(root, "step-000002"),
		"the adapter of step 4 was exported to " + filepath.Join(out, "a.safetensors")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if attempts != 2 {
		t.Errorf("%d save attempts at step 4, want 2 (one retry)", attempts)
	}
	if sum == nil || sum.EndStep != 4 || sum.Stopped != "checkpoint save failed" || len(sum.Exports) != 1 {
		t.Errorf("summary %+v", sum)
	}
	if len(exported) != 1 || exported[0] != 4 {
		t.Errorf("exports at steps %v, want [4]", exported)
	}
	cks, _ := ListCheckpoints(root)
	if len(cks) != 1 || filepath.Base(cks[0]) != "step-000002" {
		t.Errorf("checkpoints %v, want the good step-000002 only", cks)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("leftovers in %s: %v", root, entries)
	}
}

// TestRunnerChecksFreeSpace: a disk without room for one checkpoint and the
// adapter is refused before the first step, naming the folder and sizes.
func TestRunnerChecksFreeSpace(t *testing.T) {
	out := t.TempDir()
	tr, _ := newTestTrainer(t, testOptions(4), false)
	freeSpaceFn = func(string) (int64, error) { return 1000, nil }
	defer func() { freeSpaceFn = fsutil.FreeSpace }()
	_, err := (&Runner{Trainer: tr, OutDir: out, ExportBytes: 5000, Out: &bytes.Buffer{}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not enough disk space in "+out+": 1000 B free") ||
		!strings.Contains(err.Error(), "the adapter (4.9 KiB)") {
		t.Fatalf("want a disk space error, got %v", err)
	}
	if tr.StepsDone() != 0 {
		t.Errorf("%d steps ran", tr.StepsDone())
	}
	// Room for one checkpoint but not for the run's: a warning.
	ck := tr.CheckpointBytes()
	freeSpaceFn = func(string) (int64, error) { return ck + 100, nil }
	var log bytes.Buffer
	if _, err := (&Runner{Trainer: tr, OutDir: out, SaveEvery: 1, KeepLast: 2, Out: &log}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "this run's checkpoints (3 × ") {
		t.Errorf("no space warning:\n%s", log.String())
	}
}

// TestRunnerRemovesStaleTemps: temporary files a killed run left (Flora's
// own names only) are removed at the next run's start; a complete
// checkpoint folder caught between renames is put back in place.
func TestRunnerRemovesStaleTemps(t *testing.T) {
	out := t.TempDir()
	root := filepath.Join(out, "checkpoints")
	mk := func(p string, dir bool) string {
		p = filepath.Join(out, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if dir {
			os.MkdirAll(p, 0o755)
			os.WriteFile(filepath.Join(p, "adapter.safetensors"), []byte("x"), 0o644)
		} else {
			os.WriteFile(p, []byte("x"), 0o644)
		}
		return p
	}
	stale := []string{
		mk("checkpoints/.step-000002.tmp-123456", true),
		mk(".tiny.safetensors.tmp-42", false),
		mk("previews/.step-000002.png.tmp-7", false),
	}
	keep := []string{mk("notes.tmp-1", false), mk(".notes.tmp-x", false), mk(".tmp-1", false), mk("previews/step-000001.png", false)}
	// A complete checkpoint of step 1 caught between the two renames of a
	// replacement: it is recovered, not deleted.
	caught := mk("checkpoints/.step-000001.tmp-99", true)
	os.WriteFile(filepath.Join(caught, "state.json"), []byte("{}"), 0o644)

	tr, _ := newTestTrainer(t, testOptions(2), false)
	var log bytes.Buffer
	if _, err := (&Runner{Trainer: tr, OutDir: out, Out: &log}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed", p)
		}
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s (not Flora's temporary name) removed", p)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "step-000001", "adapter.safetensors")); err != nil {
		t.Errorf("complete checkpoint not recovered: %v", err)
	}
	if !strings.Contains(log.String(), "removed 3 temporary file(s)") || !strings.Contains(log.String(), "recovered checkpoint") {
		t.Errorf("log:\n%s", log.String())
	}
}
