package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/train"
)

// TestEvalStyle: the demo folder's table ends with its mean; --json
// carries every image and the summary.
func TestEvalStyle(t *testing.T) {
	code, stdout, stderr := runCLI(t, "eval", "style", "../../examples/tiny/data")
	if code != 0 || !strings.Contains(stdout, "mean of 24") || !strings.Contains(stdout, "00-red-circle.png") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "eval", "style", "--json", "../../examples/tiny/data/00-red-circle.png")
	var got struct {
		Images  []eval.FileStyle
		Summary eval.StyleStats
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil || len(got.Images) != 1 || got.Summary.Mean < 0.9 {
		t.Fatalf("exit %d: %+v\n%s%s", code, got, stdout, stderr)
	}
	if code, _, _ = runCLI(t, "eval", "style", filepath.Join(t.TempDir(), "none")); code == 0 {
		t.Error("missing image accepted")
	}
}

// TestEvalCompareReport: --report writes report.md and the loss curves of
// runs without eval.json (the eval plots are skipped).
func TestEvalCompareReport(t *testing.T) {
	run := filepath.Join(t.TempDir(), "r8")
	if err := eval.WriteRunInfo(run, eval.RunInfo{Name: "r8", Rank: 8}); err != nil {
		t.Fatal(err)
	}
	w, err := train.OpenMetrics(filepath.Join(run, "metrics.jsonl"), -1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		w.Write(train.MetricsRecord{Step: i, Loss: 1 / float64(i), LossSmooth: 1 / float64(i), StepTime: 0.1})
	}
	w.Close()
	report := filepath.Join(t.TempDir(), "report")
	code, stdout, stderr := runCLI(t, "eval", "compare", run, "--report", report)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	md, err := os.ReadFile(filepath.Join(report, eval.ReportFile))
	if err != nil || !strings.Contains(string(md), "| r8 | 8 | - | - |") {
		t.Errorf("report.md: %v\n%s", err, md)
	}
	if _, err := os.Stat(filepath.Join(report, eval.LossCurvesPlot)); err != nil {
		t.Error(err)
	}
}
