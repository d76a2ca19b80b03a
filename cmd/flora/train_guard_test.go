package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/train"
)

// quickTrain runs the tiny demo job on the pure-Go backend for a few steps
// into out (a checkpoint every step, all kept, no previews; caches in
// cache) with extra flags.
func quickTrain(t *testing.T, out, cache string, steps int, extra ...string) (int, string, string) {
	t.Helper()
	args := []string{"train", "--config", "../../examples/tiny/train.yaml", "--backend", "go", "--set", "output.dir=" + out,
		"--set", "dataset.cache_dir=" + cache, "--set", "train.steps=" + strconv.Itoa(steps),
		"--set", "train.warmup_steps=0", "--set", "train.save_every=1", "--set", "train.keep_last=0",
		"--set", "train.batch_size=1", "--set", "sample.every=0"}
	return runCLI(t, append(args, extra...)...)
}

func metricsSteps(t *testing.T, out string) int {
	t.Helper()
	recs, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func checkpointNamesIn(out string) []string {
	cks, _ := train.ListCheckpoints(filepath.Join(out, "checkpoints"))
	var names []string
	for _, c := range cks {
		names = append(names, filepath.Base(c))
	}
	return names
}

// TestTrainRunSafety: what keeps a training run's work from being lost, on
// real tiny runs sharing one cache.
func TestTrainRunSafety(t *testing.T) {
	cache := t.TempDir()
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := quickTrain(t, out, cache, 2)
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}

	t.Run("a new run into an existing run folder is refused", func(t *testing.T) {
		code, _, stderr := quickTrain(t, out, cache, 1)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		testutil.CheckContains(t, "stderr", stderr, "output.dir "+out+" already holds a run (2 checkpoint(s), newest "+filepath.Join(out, "checkpoints", "step-000002"),
			"metrics.jsonl (2 steps)", "--resume auto", "--set output.dir=", "--overwrite")
		if strings.Contains(stderr, "latent cache") {
			t.Errorf("refused only after the dataset work:\n%s", stderr)
		}
		if n := metricsSteps(t, out); n != 2 {
			t.Errorf("metrics.jsonl has %d records after the refusal, want 2", n)
		}
		if code, _, stderr := quickTrain(t, out, cache, 1, "--overwrite", "--resume", "auto"); code != 2 || !strings.Contains(stderr, "give one of them") {
			t.Errorf("--overwrite --resume: exit %d\n%s", code, stderr)
		}
	})

	t.Run("resume paths are checked first, with a hint", func(t *testing.T) {
		empty := t.TempDir() // a dataset that would fail the scan: the --resume error must come first
		file := filepath.Join(out, "metrics.jsonl")
		tests := []struct {
			resume string
			want   []string
		}{
			{"/nonexistent/run", []string{"--resume /nonexistent/run: no such folder", "RUN/checkpoints/step-000150 holding state.json", "`--resume auto`"}},
			{file, []string{"--resume " + file + ": not a folder"}},
			{out, []string{"--resume " + out + ": this is a run folder, not a checkpoint (it has no state.json)",
				"--resume auto --set output.dir=" + out, "e.g. --resume " + filepath.Join(out, "checkpoints", "step-000002")}},
			{empty, []string{"--resume " + empty + ": not a checkpoint (it has no state.json)", "`--resume auto` continues"}},
		}
		for _, tc := range tests {
			code, _, stderr := quickTrain(t, out, cache, 3, "--resume", tc.resume, "--set", "dataset.folders.0.path="+empty)
			if code != 1 {
				t.Errorf("--resume %s: exit %d, want 1", tc.resume, code)
			}
			testutil.CheckContains(t, "--resume "+tc.resume+": stderr", stderr, tc.want...)
		}
	})

	t.Run("resume auto falls back past a damaged checkpoint and names changed settings", func(t *testing.T) {
		newest := filepath.Join(out, "checkpoints", "step-000002")
		if err := os.Truncate(filepath.Join(newest, "adapter.safetensors"), 100); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := quickTrain(t, out, cache, 3, "--resume", "auto", "--set", "train.lr=1e-3", "--set", "train.batch_size=2")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		demo, err := job.Load("../../examples/tiny/train.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
		testutil.CheckContains(t, "stderr", stderr, "warning: the newest checkpoint "+newest+" is damaged",
			"moved it to "+newest+".damaged and resuming from "+filepath.Join(out, "checkpoints", "step-000001"),
			"resumed from "+filepath.Join(out, "checkpoints", "step-000001")+" at step 1",
			fmt.Sprintf("train.lr: %g → 0.001", demo.Train.LR), "train.batch_size: 1 → 2", "train.steps: 2 → 3")
		if got := strings.Join(checkpointNamesIn(out), ","); got != "step-000001,step-000002,step-000003" {
			t.Errorf("checkpoints %s", got)
		}
		if _, err := os.Stat(newest + ".damaged"); err != nil {
			t.Errorf("damaged checkpoint not kept aside: %v", err)
		}
		if n := metricsSteps(t, out); n != 3 {
			t.Errorf("metrics.jsonl has %d records, want 3", n)
		}
	})

	t.Run("stale temporary files are removed", func(t *testing.T) {
		stale := []string{filepath.Join(out, "checkpoints", ".step-000004.tmp-123"), filepath.Join(out, ".tiny-demo.safetensors.tmp-99")}
		for _, p := range stale {
			testutil.WriteFile(t, p, []byte("partial"))
		}
		code, _, stderr := quickTrain(t, out, cache, 4, "--resume", "auto")
		if code != 0 || !strings.Contains(stderr, "removed 2 temporary file(s) left by an interrupted run") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
		for _, p := range stale {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s still there", p)
			}
		}
	})

	t.Run("--overwrite replaces the earlier run and keeps the caches", func(t *testing.T) {
		code, stdout, stderr := quickTrain(t, out, cache, 1, "--overwrite", "--dry-run")
		if code != 0 || !strings.Contains(stdout, "--overwrite will remove the earlier run's outputs: "+filepath.Join(out, "checkpoints")) {
			t.Errorf("--dry-run --overwrite: exit %d\n%s%s", code, stdout, stderr)
		}
		if n := metricsSteps(t, out); n != 4 {
			t.Fatalf("the dry run changed the run: %d metrics records", n)
		}
		code, _, stderr = quickTrain(t, out, cache, 1, "--overwrite")
		if code != 0 || !strings.Contains(stderr, "--overwrite: removed the earlier run's outputs") || !strings.Contains(stderr, "24 reused") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if n := metricsSteps(t, out); n != 1 {
			t.Errorf("metrics.jsonl has %d records, want 1", n)
		}
		if got := strings.Join(checkpointNamesIn(out), ","); got != "step-000001" {
			t.Errorf("checkpoints %s, want step-000001 only", got)
		}
	})

	t.Run("no intact checkpoint left is an error naming it", func(t *testing.T) {
		only := filepath.Join(out, "checkpoints", "step-000001")
		if err := os.Truncate(filepath.Join(only, "optimizer.safetensors"), 10); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := quickTrain(t, out, cache, 2, "--resume", "auto")
		if code != 1 || !strings.Contains(stderr, "resuming from "+only+": the checkpoint is damaged") ||
			!strings.Contains(stderr, "no older intact checkpoint is left") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
	})
}

// TestTrainRefusesOutputInDataset: a run folder inside a dataset folder
// (directly or through a symbolic link) is refused before anything is
// created there.
func TestTrainRefusesOutputInDataset(t *testing.T) {
	data := t.TempDir()
	link := testutil.Symlink(t, data, filepath.Join(t.TempDir(), "link"))
	for _, out := range []string{filepath.Join(data, "run"), data, filepath.Join(link, "runs", "a")} {
		code, _, stderr := runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "dataset.folders.0.path="+data,
			"--set", "output.dir="+out)
		want := "output.dir: " + out + " is inside the dataset folder " + data + " (dataset.folders.0.path): the run's previews and loss curve would become training images"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("output.dir=%s: exit %d, stderr lacks %q:\n%s", out, code, want, stderr)
		}
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("created in the dataset folder: %v", entries)
	}
}

// TestConfigCheckRefusesLongName: a name too long for the output file names
// is refused by config check (and so before training), naming the key.
func TestConfigCheckRefusesLongName(t *testing.T) {
	code, _, stderr := runCLI(t, "config", "check", "../../examples/tiny/train.yaml", "--set", "name="+strings.Repeat("n", 300))
	if code != 1 || !strings.Contains(stderr, "name: is 300 characters long; at most 128") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "name=a/b", "--set", "output.dir="+t.TempDir())
	if code != 1 || !strings.Contains(stderr, `name: must be letters, digits`) {
		t.Errorf("train: exit %d\n%s", code, stderr)
	}
}
