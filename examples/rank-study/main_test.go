package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/internal/testutil"
)

// TestRankStudyRuns runs the study on the demo at ranks 2 and 20 for two
// steps: both runs train and are evaluated (20 exceeds the nano model's
// 16-channel projections, which keep rank 16), and the report has their
// rows, plots and a sample grid.
func TestRankStudyRuns(t *testing.T) {
	be := os.Getenv(testutil.BackendEnv)
	if be == "" {
		be = "go"
	}
	dir := t.TempDir()
	report := filepath.Join(dir, "report")
	if err := run(context.Background(), "../tiny/train.yaml", "2,20", filepath.Join(dir, "runs"), report, 2, be); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{eval.ReportFile, eval.SamplesGrid, eval.ValidationRankPlot, eval.StyleRankPlot, eval.LossCurvesPlot} {
		if _, err := os.Stat(filepath.Join(report, f)); err != nil {
			t.Errorf("report lacks %s", f)
		}
	}
	md, err := os.ReadFile(filepath.Join(report, eval.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"| rank-2 | 2 |", "| rank-20 | 20 |", "1. base (no adapter)"} {
		if !strings.Contains(string(md), row) {
			t.Errorf("report.md lacks %q:\n%s", row, md)
		}
	}
	if _, err := parseRanks("4,x"); err == nil {
		t.Error("--ranks 4,x accepted")
	}
}
