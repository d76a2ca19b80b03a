package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/plot"
)

// Runner drives a training run: the step loop with progress, metrics,
// periodic checkpoints and previews, clean stops on interrupt or NaN, and
// the final adapter, loss curve and summary.
type Runner struct {
	Trainer *Trainer
	// OutDir receives checkpoints/, previews/, metrics.jsonl, loss.png and
	// the final adapter.
	OutDir string
	// SaveEvery and PreviewEvery are step intervals (0: never, except the
	// final save).
	SaveEvery, PreviewEvery int
	// KeepLast checkpoints are kept (0 keeps all).
	KeepLast int
	// Config is the resolved job config, stored with every checkpoint.
	Config string
	// Preview renders previews for a step into a file and returns its path.
	Preview func(step int) (string, error)
	// Export writes the trainer's adapter (final or periodic) into dir and
	// returns the files written.
	Export func(dir string, step int) ([]string, error)
	// ExportBytes is the planned size of the exported adapter files, for the
	// free-space check before the run starts.
	ExportBytes int64
	// Out receives progress and messages.
	Out io.Writer
	// OnStep, OnCheckpoint and OnPreview, when set, are told of every
	// finished step, saved checkpoint (its folder) and written preview (its
	// file), for callers that follow a run other than by reading Out.
	OnStep       func(res *StepResult)
	OnCheckpoint func(step int, dir string)
	OnPreview    func(step int, path string)
}

// RunSummary describes a finished (or stopped) run.
type RunSummary struct {
	StartStep, EndStep  int
	FirstLoss, LastLoss float64
	// MeanFirst and MeanLast are the mean losses of the first and last 10%
	// of the steps run.
	MeanFirst, MeanLast float64
	StepsPerSec         float64
	Duration            time.Duration
	LastCheckpoint      string
	Exports             []string
	Stopped             string // why the run stopped early ("" when complete)
}

// Run trains until the last step or until ctx is cancelled (SIGINT/SIGTERM:
// a checkpoint is saved and Run returns cleanly). A non-finite loss stops
// the run with an error; the last good checkpoint stays. A failed write (a
// full disk) stops the run too, keeping the last good checkpoint and
// exporting the adapter trained so far before giving up.
func (r *Runner) Run(ctx context.Context) (*RunSummary, error) {
	t := r.Trainer
	out := r.Out
	if out == nil {
		out = os.Stdout
	}
	ckptRoot := filepath.Join(r.OutDir, "checkpoints")
	if err := r.removeStaleTemps(out); err != nil {
		return nil, err
	}
	if err := r.checkSpace(out); err != nil {
		return nil, err
	}
	metrics, err := OpenMetrics(filepath.Join(r.OutDir, "metrics.jsonl"), t.StepsDone())
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	sum := &RunSummary{StartStep: t.StepsDone()}
	prog := NewProgress(out, t.StepsDone(), t.opts.Steps)
	// The run's time continues from its checkpoint's.
	base, start := t.elapsed, time.Now()
	elapsed := func() time.Duration { return base + time.Since(start) }
	var losses []float64
	summarize := func() {
		prog.Finish()
		sum.EndStep = t.StepsDone()
		sum.Duration = time.Since(start)
		if n := len(losses); n > 0 {
			sum.FirstLoss, sum.LastLoss = losses[0], losses[n-1]
			k := max(1, n/10)
			sum.MeanFirst, sum.MeanLast = meanOf(losses[:k]), meanOf(losses[n-k:])
			sum.StepsPerSec = float64(n) / sum.Duration.Seconds()
		}
	}
	// stop gives up after a failed write: the checkpoints saved so far
	// stay, and the adapter as trained so far is exported (it is small and
	// may still fit) so the run's work is not lost.
	stop := func(why string, cause error) (*RunSummary, error) {
		summarize()
		sum.Stopped = why
		msg := fmt.Sprintf("training stopped at step %d; %s", t.StepsDone(), lastGoodCheckpoint(ckptRoot))
		if r.Export != nil {
			if files, err := r.Export(r.OutDir, t.StepsDone()); err != nil {
				msg += fmt.Sprintf("; exporting the adapter failed too: %v%s", err, spaceNote(r.OutDir))
			} else {
				sum.Exports = files
				msg += fmt.Sprintf("; the adapter of step %d was exported to %s", t.StepsDone(), strings.Join(files, ", "))
			}
		}
		return sum, fmt.Errorf("%w; %s", cause, msg)
	}
	save := func(reason string) error {
		t.elapsed = elapsed()
		dir, err := t.SaveCheckpoint(ckptRoot, r.Config)
		if err != nil {
			// A failed attempt removes what it wrote; one retry covers a
			// passing error before the run gives up.
			prog.Printf("warning: saving the %s checkpoint failed, retrying once: %v\n", reason, err)
			dir, err = t.SaveCheckpoint(ckptRoot, r.Config)
		}
		if err != nil {
			return fmt.Errorf("saving the %s checkpoint %s: %w%s", reason,
				filepath.Join(ckptRoot, CheckpointName(t.StepsDone())), err, spaceNote(ckptRoot))
		}
		sum.LastCheckpoint = dir
		if r.OnCheckpoint != nil {
			r.OnCheckpoint(t.StepsDone(), dir)
		}
		if err := PruneCheckpoints(ckptRoot, r.KeepLast); err != nil {
			prog.Printf("warning: %v\n", err)
		}
		return nil
	}
	for !t.Done() {
		if err := ctx.Err(); err != nil {
			sum.Stopped = "interrupted"
			prog.Printf("\ninterrupted at step %d: saving a checkpoint\n", t.StepsDone())
			if err := save("interrupt"); err != nil {
				return stop("checkpoint save failed", err)
			}
			break
		}
		res, err := t.Step()
		if err != nil {
			prog.Finish()
			if errors.Is(err, ErrNonFinite) {
				sum.Stopped = "non-finite loss"
				return sum, fmt.Errorf("%w; training stopped, %s (lower train.lr or check the data)", err, lastGoodCheckpoint(ckptRoot))
			}
			return sum, err
		}
		losses = append(losses, res.Loss)
		prog.Step(res)
		if r.OnStep != nil {
			r.OnStep(res)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if err := metrics.Write(MetricsRecord{Step: res.Step, Loss: res.Loss, LossSmooth: res.LossSmooth, LR: res.LR, GradNorm: res.GradNorm,
			Time: elapsed().Seconds(), StepTime: res.Duration.Seconds(), HostMemory: int64(ms.Sys), Timesteps: res.Timesteps}); err != nil {
			return stop("metrics write failed", fmt.Errorf("%w%s", err, spaceNote(r.OutDir)))
		}
		final := t.Done()
		if r.SaveEvery > 0 && res.Step%r.SaveEvery == 0 && !final {
			if err := save("periodic"); err != nil {
				return stop("checkpoint save failed", err)
			}
		}
		if r.Preview != nil && r.PreviewEvery > 0 && (res.Step%r.PreviewEvery == 0 || final) {
			if path, err := r.Preview(res.Step); err != nil {
				prog.Printf("warning: preview at step %d: %v\n", res.Step, err)
			} else {
				prog.Printf("preview: %s\n", path)
				if r.OnPreview != nil {
					r.OnPreview(res.Step, path)
				}
			}
		}
	}
	summarize()
	if sum.Stopped == "" {
		if err := save("final"); err != nil {
			return stop("checkpoint save failed", err)
		}
	}
	if r.Export != nil {
		files, err := r.Export(r.OutDir, t.StepsDone())
		if err != nil {
			return sum, fmt.Errorf("exporting adapter: %w%s; %s", err, spaceNote(r.OutDir), lastGoodCheckpoint(ckptRoot))
		}
		sum.Exports = files
	}
	if err := WriteLossCurve(filepath.Join(r.OutDir, "metrics.jsonl"), filepath.Join(r.OutDir, "loss.png")); err != nil {
		fmt.Fprintf(out, "warning: loss curve: %v\n", err)
	}
	return sum, nil
}

// freeSpaceFn measures free disk space; tests replace it.
var freeSpaceFn = fsutil.FreeSpace

// spaceNote is " (N free in DIR)" for an error message about writing into
// dir, or "" when the free space is unknown.
func spaceNote(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			if free, err := freeSpaceFn(d); err == nil {
				return fmt.Sprintf(" (%s free in %s)", fsutil.HumanBytes(free), d)
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// lastGoodCheckpoint names the newest checkpoint under root for a message.
func lastGoodCheckpoint(root string) string {
	all, err := ListCheckpoints(root)
	if err != nil || len(all) == 0 {
		return "no checkpoint was saved yet"
	}
	return "the last good checkpoint is " + all[len(all)-1]
}

// checkSpace refuses to start when the output folder's disk cannot hold one
// checkpoint and the exported adapter, and warns when it cannot hold what
// the whole run keeps.
func (r *Runner) checkSpace(out io.Writer) error {
	if err := os.MkdirAll(r.OutDir, 0o755); err != nil {
		return fmt.Errorf("creating the run folder: %w", err)
	}
	free, err := freeSpaceFn(r.OutDir)
	if err != nil {
		return nil // unknown on this system: nothing to check
	}
	t := r.Trainer
	ck := t.CheckpointBytes()
	if need := ck + r.ExportBytes; free < need {
		return fmt.Errorf("not enough disk space in %s: %s free, but a checkpoint (%s) and the adapter (%s) need %s; free some space or set output.dir to a folder on another disk",
			r.OutDir, fsutil.HumanBytes(free), fsutil.HumanBytes(ck), fsutil.HumanBytes(r.ExportBytes), fsutil.HumanBytes(need))
	}
	saves := 1
	if r.SaveEvery > 0 {
		saves += (t.opts.Steps - t.StepsDone()) / r.SaveEvery
	}
	if r.KeepLast > 0 {
		saves = min(saves, r.KeepLast+1) // one more while a new one is written
	}
	if need := int64(saves)*ck + r.ExportBytes; free < need {
		fmt.Fprintf(out, "warning: %s free in %s, but this run's checkpoints (%d × %s) and adapter need about %s; a save that fails stops the run (the last good checkpoint stays)\n",
			fsutil.HumanBytes(free), r.OutDir, saves, fsutil.HumanBytes(ck), fsutil.HumanBytes(need))
	}
	return nil
}

// removeStaleTemps removes what a killed run left half-written in the run
// folder: Flora's temporary files (in the run folder, checkpoints/ and
// previews/) and unfinished checkpoint folders. A temporary checkpoint
// folder that is complete (it has its state.json, written last) and whose
// checkpoint is missing — a kill while a checkpoint replaced another of its
// step — is put in place instead.
func (r *Runner) removeStaleTemps(out io.Writer) error {
	ckptRoot := filepath.Join(r.OutDir, "checkpoints")
	if err := recoverCheckpointTemps(ckptRoot, out); err != nil {
		return err
	}
	var removed []string
	for _, d := range []string{r.OutDir, ckptRoot, filepath.Join(r.OutDir, "previews")} {
		rm, err := fsutil.RemoveStaleTemps(d)
		removed = append(removed, rm...)
		if err != nil {
			return err
		}
	}
	if len(removed) > 0 {
		fmt.Fprintf(out, "removed %d temporary file(s) left by an interrupted run: %s\n", len(removed), strings.Join(removed, ", "))
	}
	return nil
}

// recoverCheckpointTemps renames complete temporary checkpoint folders whose
// checkpoint is missing into place.
func recoverCheckpointTemps(root string, out io.Writer) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil // no checkpoints yet (or unreadable: ListCheckpoints reports it)
	}
	for _, e := range entries {
		target, ok := fsutil.TempTarget(e.Name())
		if !ok || !e.IsDir() || !strings.HasPrefix(target, checkpointPrefix) {
			continue
		}
		final := filepath.Join(root, target)
		if _, err := os.Stat(final); err == nil {
			continue
		}
		tmp := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(tmp, "state.json")); err != nil {
			continue
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("recovering checkpoint %s: %w", final, err)
		}
		fmt.Fprintf(out, "recovered checkpoint %s (a run was killed while saving it)\n", final)
	}
	return nil
}

func meanOf(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// WriteLossCurve plots a run's metrics.jsonl (raw and smoothed loss) to PNG.
func WriteLossCurve(metricsPath, pngPath string) error {
	recs, err := ReadMetrics(metricsPath)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return errors.New("no metrics yet")
	}
	var x, y, s []float64
	for _, r := range recs {
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			continue
		}
		x = append(x, float64(r.Step))
		y = append(y, r.Loss)
		s = append(s, r.LossSmooth)
	}
	c := &plot.Chart{Title: "training loss", XLabel: "step", YLabel: "loss", Series: []plot.Series{
		{Name: "loss", X: x, Y: y, Faint: true}, {Name: "smoothed", X: x, Y: s},
	}}
	return c.WritePNG(pngPath)
}

// PrintSummary writes the run summary as a table.
func (s *RunSummary) PrintSummary(w io.Writer) {
	tw := tablewriter.NewWriter(w)
	tw.Header([]string{"", "value"})
	rows := [][]string{
		{"steps", fmt.Sprintf("%d → %d", s.StartStep, s.EndStep)},
		{"duration", s.Duration.Round(time.Millisecond).String()},
		{"speed", fmt.Sprintf("%.3f steps/s", s.StepsPerSec)},
		{"loss first → last", fmt.Sprintf("%.5f → %.5f", s.FirstLoss, s.LastLoss)},
		{"mean loss first/last 10%", fmt.Sprintf("%.5f / %.5f", s.MeanFirst, s.MeanLast)},
		{"checkpoint", s.LastCheckpoint},
	}
	if len(s.Exports) > 0 {
		rows = append(rows, []string{"adapter", strings.Join(s.Exports, "\n")})
	}
	if s.Stopped != "" {
		rows = append(rows, []string{"stopped", s.Stopped})
	}
	_ = tw.Bulk(rows)
	_ = tw.Render()
}
