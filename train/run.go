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
	// Out receives progress and messages.
	Out io.Writer
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
// the run with an error; the last good checkpoint stays.
func (r *Runner) Run(ctx context.Context) (*RunSummary, error) {
	t := r.Trainer
	out := r.Out
	if out == nil {
		out = os.Stdout
	}
	ckptRoot := filepath.Join(r.OutDir, "checkpoints")
	metrics, err := OpenMetrics(filepath.Join(r.OutDir, "metrics.jsonl"), t.StepsDone())
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	sum := &RunSummary{StartStep: t.StepsDone()}
	prog := NewProgress(out, t.StepsDone(), t.opts.Steps)
	start := time.Now()
	var losses []float64
	save := func(reason string) error {
		dir, err := t.SaveCheckpoint(ckptRoot, r.Config)
		if err != nil {
			return fmt.Errorf("saving checkpoint (%s): %w", reason, err)
		}
		sum.LastCheckpoint = dir
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
				return sum, err
			}
			break
		}
		res, err := t.Step()
		if err != nil {
			prog.Finish()
			if errors.Is(err, ErrNonFinite) {
				sum.Stopped = "non-finite loss"
				msg := "no checkpoint was saved yet"
				if sum.LastCheckpoint != "" {
					msg = "the last good checkpoint is " + sum.LastCheckpoint
				}
				return sum, fmt.Errorf("%w; training stopped, %s (lower train.lr or check the data)", err, msg)
			}
			return sum, err
		}
		losses = append(losses, res.Loss)
		smooth := prog.Step(res)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if err := metrics.Write(MetricsRecord{Step: res.Step, Loss: res.Loss, LossSmooth: smooth, LR: res.LR, GradNorm: res.GradNorm,
			Time: time.Since(start).Seconds(), StepTime: res.Duration.Seconds(), HostMemory: int64(ms.Sys), Timesteps: res.Timesteps}); err != nil {
			return sum, err
		}
		final := t.Done()
		if r.SaveEvery > 0 && res.Step%r.SaveEvery == 0 && !final {
			if err := save("periodic"); err != nil {
				// A failed save (e.g. full disk) leaves the previous checkpoints
				// intact; training goes on and the final save is retried.
				prog.Printf("warning: %v\n", err)
			}
		}
		if r.Preview != nil && r.PreviewEvery > 0 && (res.Step%r.PreviewEvery == 0 || final) {
			if path, err := r.Preview(res.Step); err != nil {
				prog.Printf("warning: preview at step %d: %v\n", res.Step, err)
			} else {
				prog.Printf("preview: %s\n", path)
			}
		}
	}
	prog.Finish()
	sum.EndStep = t.StepsDone()
	sum.Duration = time.Since(start)
	if n := len(losses); n > 0 {
		sum.FirstLoss, sum.LastLoss = losses[0], losses[n-1]
		k := max(1, n/10)
		sum.MeanFirst, sum.MeanLast = meanOf(losses[:k]), meanOf(losses[n-k:])
		sum.StepsPerSec = float64(n) / sum.Duration.Seconds()
	}
	if sum.Stopped == "" {
		if err := save("final"); err != nil {
			return sum, err
		}
	}
	if r.Export != nil {
		files, err := r.Export(r.OutDir, t.StepsDone())
		if err != nil {
			return sum, fmt.Errorf("exporting adapter: %w", err)
		}
		sum.Exports = files
	}
	if err := WriteLossCurve(filepath.Join(r.OutDir, "metrics.jsonl"), filepath.Join(r.OutDir, "loss.png")); err != nil {
		fmt.Fprintf(out, "warning: loss curve: %v\n", err)
	}
	return sum, nil
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
