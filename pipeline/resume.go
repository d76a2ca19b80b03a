package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/train"
)

// What keeps training runs from losing work: the output folder is checked
// against the dataset and an earlier run, --resume against what it names,
// and a damaged newest checkpoint falls back to an intact one.

// checkpointsDir is the folder of a run's checkpoints.
func checkpointsDir(outDir string) string { return filepath.Join(outDir, "checkpoints") }

// ExportPath is where a run's adapter is exported in a format: NAME.safetensors
// for ComfyUI (the default), NAME.FORMAT.safetensors for the others.
func ExportPath(dir, name string, format lora.Format) string {
	if format == lora.FormatComfy {
		return filepath.Join(dir, name+".safetensors")
	}
	return filepath.Join(dir, name+"."+string(format)+".safetensors")
}

// exportPaths are every adapter file a run named name may export into dir:
// each format, trained and EMA.
func exportPaths(dir, name string) []string {
	var out []string
	for _, n := range []string{name, EMAName(name)} {
		for _, f := range job.ExportFormats {
			out = append(out, ExportPath(dir, n, lora.Format(f)))
		}
	}
	return out
}

// outputInDataset reports output.dir lying in (or being) a dataset folder:
// its previews and loss curve would be trained on as images.
func outputInDataset(cfg *job.Config) []job.Problem {
	var list []job.Problem
	for i, d := range cfg.Dataset.Folders {
		if in, err := fsutil.Within(cfg.Output.Dir, d.Path); err == nil && in {
			list = append(list, job.Problem{Path: "output.dir", Msg: fmt.Sprintf(
				"%s is inside the dataset folder %s (dataset.folders.%d.path): the run's previews and loss curve would become training images; choose an output folder outside the dataset, e.g. runs/%s",
				cfg.Output.Dir, d.Path, i, cfg.Name)})
		}
	}
	return list
}

// runStart says how a run starts: fresh, or from a checkpoint.
type runStart struct {
	// resume is the --resume value: "", "auto" or a checkpoint folder.
	resume string
	// candidates are the checkpoints to try, newest first (for "auto",
	// older ones are the fallbacks when a newer one is damaged).
	candidates []string
	// backend names the resolved compute backend.
	backend string
}

// resumeCandidates checks --resume before any heavy work and lists the
// checkpoints it names.
func resumeCandidates(outDir, resume string) ([]string, error) {
	switch resume {
	case "":
		return nil, nil
	case "auto":
		all, err := train.ListCheckpoints(checkpointsDir(outDir))
		if err != nil {
			return nil, fmt.Errorf("--resume auto: listing checkpoints: %w", err)
		}
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		return all, nil
	}
	const what = "a checkpoint is a folder like RUN/checkpoints/step-000150 holding state.json, adapter.safetensors and optimizer.safetensors; `--resume auto` continues the newest checkpoint in output.dir"
	st, err := os.Stat(resume)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("--resume %s: no such folder; %s", resume, what)
	case err != nil:
		return nil, fmt.Errorf("--resume %s: %w", resume, err)
	case !st.IsDir():
		return nil, fmt.Errorf("--resume %s: not a folder; %s", resume, what)
	}
	if _, err := train.ReadCheckpointInfo(resume); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--resume %s: the checkpoint is damaged: %w", resume, err)
		}
		if cks, _ := train.ListCheckpoints(checkpointsDir(resume)); len(cks) > 0 {
			return nil, fmt.Errorf("--resume %s: this is a run folder, not a checkpoint (it has no state.json); continue its newest checkpoint with `--resume auto --set output.dir=%s`, or name one, e.g. --resume %s",
				resume, resume, cks[len(cks)-1])
		}
		return nil, fmt.Errorf("--resume %s: not a checkpoint (it has no state.json); %s", resume, what)
	}
	return []string{resume}, nil
}

// previousRun lists the outputs an earlier run left in the output folder:
// checkpoints, metrics, and the adapter files this job would overwrite.
func previousRun(cfg *job.Config) []string {
	var found []string
	dir := cfg.Output.Dir
	if cks, _ := train.ListCheckpoints(checkpointsDir(dir)); len(cks) > 0 {
		found = append(found, fmt.Sprintf("%d checkpoint(s), newest %s", len(cks), cks[len(cks)-1]))
	}
	if recs, _ := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl")); len(recs) > 0 {
		found = append(found, fmt.Sprintf("metrics.jsonl (%d steps)", len(recs)))
	}
	for _, p := range exportPaths(dir, cfg.Name) {
		if fileExists(p) {
			found = append(found, p)
		}
	}
	return found
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkPreviousRun stops a fresh run (no --resume) from mixing with an
// earlier run in the same folder; with --overwrite it returns the earlier
// run's outputs to remove instead.
func checkPreviousRun(cfg *job.Config, overwrite bool) ([]string, error) {
	found := previousRun(cfg)
	if len(found) == 0 {
		return nil, nil
	}
	if !overwrite {
		return nil, fmt.Errorf("output.dir %s already holds a run (%s); continue it with --resume auto, start a new run in another folder with --set output.dir=runs/NEW, or replace it with --overwrite",
			cfg.Output.Dir, strings.Join(found, "; "))
	}
	return runOutputs(cfg), nil
}

// clearPreviousRun removes what checkPreviousRun listed.
func clearPreviousRun(paths []string, rep Reporter) error {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("--overwrite: removing the earlier run's %s: %w", p, err)
		}
	}
	if len(paths) > 0 {
		rep.printf("--overwrite: removed the earlier run's outputs: %s", strings.Join(paths, ", "))
	}
	return nil
}

// runOutputs are the existing paths a run writes in its folder (never the
// folder itself, nor the caches, which are reusable and keyed by content).
func runOutputs(cfg *job.Config) []string {
	dir := cfg.Output.Dir
	paths := []string{checkpointsDir(dir), filepath.Join(dir, "previews"), filepath.Join(dir, "metrics.jsonl"),
		filepath.Join(dir, "loss.png"), filepath.Join(dir, "run.json")}
	paths = append(paths, exportPaths(dir, cfg.Name)...)
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// resumeTrainer restores the first intact checkpoint of start.candidates.
// With --resume auto a damaged checkpoint is moved aside (renamed
// NAME.damaged, so it is neither pruned over nor tried again) with a warning
// naming it and the one used instead; a checkpoint of another adapter or
// dataset is an error, never skipped. Settings that changed since the
// checkpoint are listed.
func resumeTrainer(tr *train.Trainer, cfg *job.Config, start runStart, rep Reporter) error {
	if start.resume == "" {
		return nil
	}
	if len(start.candidates) == 0 {
		rep.printf("no checkpoint in %s: starting from step 0", checkpointsDir(cfg.Output.Dir))
		return nil
	}
	for i, dir := range start.candidates {
		err := tr.LoadCheckpoint(dir)
		if err == nil {
			rep.printf("resumed from %s at step %d", dir, tr.StepsDone())
			warnChangedSettings(dir, cfg, start.backend, rep)
			return nil
		}
		if start.resume != "auto" || errors.Is(err, train.ErrIncompatible) {
			return fmt.Errorf("resuming from %s: %w", dir, err)
		}
		if i == len(start.candidates)-1 {
			return fmt.Errorf("resuming from %s: the checkpoint is damaged: %w; no older intact checkpoint is left in %s (start again with --overwrite)",
				dir, err, checkpointsDir(cfg.Output.Dir))
		}
		aside := dir + ".damaged"
		for n := 2; fileExists(aside); n++ {
			aside = fmt.Sprintf("%s.damaged-%d", dir, n)
		}
		if rerr := os.Rename(dir, aside); rerr != nil {
			return fmt.Errorf("checkpoint %s is damaged (%v) and could not be moved aside: %w", dir, err, rerr)
		}
		rep.printf("warning: the newest checkpoint %s is damaged (%v); moved it to %s and resuming from %s instead",
			dir, err, aside, start.candidates[i+1])
	}
	return nil
}

// warnChangedSettings lists the optimisation settings and the backend that
// differ between the checkpoint's run and this one.
func warnChangedSettings(dir string, cfg *job.Config, backend string, rep Reporter) {
	info, err := train.ReadCheckpointInfo(dir)
	if err != nil {
		return
	}
	var changes []string
	if info.Config != "" {
		if old, err := job.ParseRecorded(info.Config); err == nil {
			for _, c := range job.Changes(old, cfg, job.ResumeKeys) {
				changes = append(changes, c.String())
			}
		}
	}
	if info.Backend != "" && backend != "" && info.Backend != backend {
		changes = append(changes, fmt.Sprintf("backend: %s → %s", info.Backend, backend))
	}
	if len(changes) > 0 {
		rep.printf("warning: resuming with settings changed since the checkpoint (the run continues with the new ones):\n  %s",
			strings.Join(changes, "\n  "))
	}
}
