package eval

import (
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"

	"github.com/flora-ml/flora/internal/plot"
)

// CompareTable writes one row per run: rank, steps, losses, speed.
func CompareTable(w io.Writer, runs []*Run) error {
	t := tablewriter.NewWriter(w)
	t.Header([]string{"run", "variant", "rank", "alpha", "adapter params", "steps", "loss first 10%", "loss last 10%", "smoothed final", "smoothed min", "steps/s"})
	for _, r := range runs {
		rank, alpha := "-", "-"
		if r.Info.Rank > 0 {
			rank, alpha = fmt.Sprint(r.Info.Rank), fmt.Sprintf("%g", r.Info.Alpha)
		}
		params := "-"
		if r.Info.AdapterParams > 0 {
			params = fmt.Sprint(r.Info.AdapterParams)
		}
		if err := t.Append([]string{r.Info.Name, orDash(r.Info.Variant), rank, alpha, params, fmt.Sprint(r.StepsDone),
			fmt.Sprintf("%.5f", r.MeanFirst10), fmt.Sprintf("%.5f", r.MeanLast10),
			fmt.Sprintf("%.5f", r.FinalSmooth), fmt.Sprintf("%.5f", r.MinSmooth), fmt.Sprintf("%.3f", r.StepsPerSec)}); err != nil {
			return err
		}
	}
	return t.Render()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// LossCurves plots the smoothed loss of every run against the step.
func LossCurves(path string, runs []*Run) error {
	c := &plot.Chart{Title: "smoothed training loss", XLabel: "step", YLabel: "loss"}
	for _, r := range runs {
		s := plot.Series{Name: r.Info.Name}
		for _, m := range r.Metrics {
			s.X = append(s.X, float64(m.Step))
			s.Y = append(s.Y, m.LossSmooth)
		}
		c.Series = append(c.Series, s)
	}
	return c.WritePNG(path)
}

// RankCurve plots the final smoothed loss (and the last-10% mean) against
// the rank of runs that record one.
func RankCurve(path string, runs []*Run) error {
	final := plot.Series{Name: "smoothed final"}
	last := plot.Series{Name: "mean last 10%"}
	for _, r := range runs {
		if r.Info.Rank <= 0 {
			continue
		}
		final.X = append(final.X, float64(r.Info.Rank))
		final.Y = append(final.Y, r.FinalSmooth)
		last.X = append(last.X, float64(r.Info.Rank))
		last.Y = append(last.Y, r.MeanLast10)
	}
	if len(final.X) == 0 {
		return fmt.Errorf("no run records its rank (run.json)")
	}
	c := &plot.Chart{Title: "loss by LoRA rank", XLabel: "rank", YLabel: "loss", Series: []plot.Series{final, last}}
	return c.WritePNG(path)
}
