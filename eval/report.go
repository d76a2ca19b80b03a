package eval

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/plot"
)

// Report file names in the report folder.
const (
	ReportFile         = "report.md"
	ValidationRankPlot = "validation-vs-rank.png"
	StyleRankPlot      = "style-vs-rank.png"
	LossCurvesPlot     = "loss-curves.png"
	SamplesGrid        = "samples.png"
)

// Report writes a comparison of runs into dir: report.md (a table of run,
// rank, validation loss, style score, the base model's style score, adapter
// size, train time and steps),
// the loss curves, validation loss and style score against rank (from the
// runs' eval.json), and a grid of their samples (rows: runs, columns:
// prompts). Plots without data (no run with a rank and an eval.json, no
// samples) are skipped and report.md says so. It returns the files
// written.
func Report(dir string, runs []*Run) ([]string, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("report: no runs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report folder: %w", err)
	}
	var md strings.Builder
	md.WriteString("# Run comparison\n\n")
	reportTable(&md, runs)
	written := []string{filepath.Join(dir, ReportFile)}
	add := func(name, what string, draw func(string) error) error {
		path := filepath.Join(dir, name)
		if err := draw(path); err != nil {
			if _, ok := err.(noData); ok {
				fmt.Fprintf(&md, "- %s: not drawn (%v)\n", what, err)
				return nil
			}
			return err
		}
		fmt.Fprintf(&md, "- %s: ![%s](%s)\n", what, what, name)
		written = append(written, path)
		return nil
	}
	md.WriteString("\n## Plots\n\n")
	if err := add(LossCurvesPlot, "training loss", func(p string) error { return LossCurves(p, runs) }); err != nil {
		return nil, err
	}
	if err := add(ValidationRankPlot, "validation loss by rank", func(p string) error {
		return evalRankCurve(p, runs, "validation loss by LoRA rank", "validation loss", func(e *RunEval) float64 { return e.ValidationLoss })
	}); err != nil {
		return nil, err
	}
	if err := add(StyleRankPlot, "style score by rank", func(p string) error {
		return evalRankCurve(p, runs, "style score by LoRA rank", "style score", func(e *RunEval) float64 { return e.StyleScore })
	}); err != nil {
		return nil, err
	}
	grid, cols, err := sampleGrid(runs)
	if err != nil {
		return nil, err
	}
	if err := add(SamplesGrid, "samples", func(p string) error {
		if len(cols) == 0 {
			return noData("no run has eval.json samples; run flora eval run first")
		}
		return grid.WritePNG(p)
	}); err != nil {
		return nil, err
	}
	if len(cols) > 0 {
		md.WriteString("\n## Samples\n\nRows, top to bottom:\n\n")
		for i, label := range grid.RowLabels {
			name := ""
			if k := i - (len(grid.RowLabels) - len(runs)); k >= 0 {
				name = runs[k].Info.Name + ": "
			}
			fmt.Fprintf(&md, "%d. %s%s\n", i+1, name, label)
		}
		md.WriteString("\nColumns, left to right:\n\n")
		for j, p := range cols {
			fmt.Fprintf(&md, "%d. %s\n", j+1, p)
		}
	}
	if err := fsutil.WriteFileAtomic(written[0], []byte(md.String())); err != nil {
		return nil, err
	}
	return written, nil
}

// noData is why a plot has nothing to draw.
type noData string

func (e noData) Error() string { return string(e) }

// reportTable writes the markdown table of runs.
func reportTable(md *strings.Builder, runs []*Run) {
	md.WriteString("| run | rank | validation loss | style score | base style | adapter size | train time | steps |\n")
	md.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range runs {
		rank, val, style, base := "-", "-", "-", "-"
		if r.Info.Rank > 0 {
			rank = fmt.Sprint(r.Info.Rank)
		}
		if e := r.Eval; e != nil {
			val = fmt.Sprintf("%.5f", e.ValidationLoss)
			style = fmt.Sprintf("%.3f ± %.3f", e.StyleScore, e.StyleStd)
			if len(e.BaseSamples) > 0 {
				base = fmt.Sprintf("%.3f ± %.3f", e.BaseStyleScore, e.BaseStyleStd)
			}
		}
		size := "-"
		if r.AdapterBytes > 0 {
			size = fsutil.HumanBytes(r.AdapterBytes)
		}
		fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", escapeCell(r.Info.Name), rank, val, style, base, size,
			(time.Duration(r.TrainSeconds * float64(time.Second))).Round(time.Second/10), r.StepsDone)
	}
	for _, r := range runs {
		if e := r.Eval; e != nil {
			fmt.Fprintf(md, "\nBase model validation loss (same data, timesteps and noise): %.5f.\n", e.BaseValidationLoss)
			if e.ValidationSet != "" {
				fmt.Fprintf(md, "Validation loss is measured on %s.\n", e.ValidationSet)
			}
			md.WriteString("Base style: the base model's style score on the same prompts and seed, without the adapter.\n")
			break
		}
	}
}

// escapeCell keeps a table cell on its row.
func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// evalRankCurve plots one eval.json number against the rank of the runs
// that have both.
func evalRankCurve(path string, runs []*Run, title, ylabel string, value func(*RunEval) float64) error {
	s := plot.Series{Name: ylabel}
	for _, r := range runs {
		if r.Info.Rank > 0 && r.Eval != nil {
			s.X = append(s.X, float64(r.Info.Rank))
			s.Y = append(s.Y, value(r.Eval))
		}
	}
	if len(s.X) == 0 {
		return noData("no run has both a rank (run.json) and an eval.json")
	}
	c := &plot.Chart{Title: title, XLabel: "rank", YLabel: ylabel, Series: []plot.Series{s}}
	return c.WritePNG(path)
}

// rowLabel names a run's grid row: its rank, or its name without one.
func rowLabel(r *Run) string {
	if r.Info.Rank > 0 {
		return fmt.Sprintf("rank %d", r.Info.Rank)
	}
	return r.Info.Name
}

// sampleGrid lays out the runs' eval samples: one row per run, one column
// per prompt (in order of first appearance); a run without a prompt's
// sample leaves its cell blank. It returns the prompts (none: no samples).
func sampleGrid(runs []*Run) (*plot.ImageGrid, []string, error) {
	var prompts []string
	col := map[string]int{}
	for _, r := range runs {
		if r.Eval == nil {
			continue
		}
		for _, p := range r.Eval.Prompts {
			if _, ok := col[p]; !ok {
				col[p] = len(prompts)
				prompts = append(prompts, p)
			}
		}
	}
	g := &plot.ImageGrid{}
	for j, p := range prompts {
		g.ColLabels = append(g.ColLabels, fmt.Sprintf("%d. %s", j+1, p))
	}
	// The base model's row first (from the first run that sampled it: the
	// runs share the base, prompts and seed), then one row per run.
	for _, r := range runs {
		if r.Eval != nil && len(r.Eval.BaseSamples) == len(r.Eval.Prompts) {
			row, err := gridRow(r, r.Eval.BaseSamples, col, len(prompts))
			if err != nil {
				return nil, nil, err
			}
			g.Rows = append(g.Rows, row)
			g.RowLabels = append(g.RowLabels, BaseRowLabel)
			break
		}
	}
	for _, r := range runs {
		row := make([]image.Image, len(prompts))
		if r.Eval != nil {
			var err error
			if row, err = gridRow(r, r.Eval.Samples, col, len(prompts)); err != nil {
				return nil, nil, err
			}
		}
		g.Rows = append(g.Rows, row)
		g.RowLabels = append(g.RowLabels, rowLabel(r))
	}
	return g, prompts, nil
}

// BaseRowLabel labels the sample grid's row of the base model.
const BaseRowLabel = "base (no adapter)"

// gridRow reads a run's samples (one per prompt of its eval.json) into
// their prompts' columns.
func gridRow(r *Run, samples []string, col map[string]int, n int) ([]image.Image, error) {
	row := make([]image.Image, n)
	for i, p := range r.Eval.Prompts {
		img, err := readSample(r.Dir, samples[i])
		if err != nil {
			return nil, err
		}
		row[col[p]] = img
	}
	return row, nil
}

// readSample decodes a sample named in eval.json (relative to the run
// folder, or absolute).
func readSample(runDir, name string) (image.Image, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(runDir, name)
	}
	b, err := imageio.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("%s names sample %s: %w (rerun flora eval run)", filepath.Join(runDir, RunEvalFile), name, err)
	}
	img, _, err := imageio.Decode(b, imageio.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("%s names sample %s: %w", filepath.Join(runDir, RunEvalFile), name, err)
	}
	return img, nil
}
