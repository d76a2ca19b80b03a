package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/train"
)

func fakeRun(t *testing.T, root, name string, rank int, scale float64) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := WriteRunInfo(dir, RunInfo{Name: name, Variant: "tiny", Rank: rank, Alpha: float64(rank), Steps: 50}); err != nil {
		t.Fatal(err)
	}
	w, err := train.OpenMetrics(filepath.Join(dir, "metrics.jsonl"), -1)
	if err != nil {
		t.Fatal(err)
	}
	var s train.Smoother
	for i := 1; i <= 50; i++ {
		l := scale / float64(i)
		w.Write(train.MetricsRecord{Step: i, Loss: l, LossSmooth: s.Add(l), StepTime: 0.5})
	}
	w.Close()
	return dir
}

func TestCompareRuns(t *testing.T) {
	root := t.TempDir()
	var runs []*Run
	for _, c := range []struct {
		name  string
		rank  int
		scale float64
	}{{"r32", 32, 1}, {"r4", 4, 2}, {"r16", 16, 1.5}} {
		r, err := LoadRun(fakeRun(t, root, c.name, c.rank, c.scale))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	SortByRank(runs)
	if runs[0].Info.Rank != 4 || runs[2].Info.Rank != 32 {
		t.Errorf("sort by rank: %d %d %d", runs[0].Info.Rank, runs[1].Info.Rank, runs[2].Info.Rank)
	}
	if runs[0].StepsDone != 50 || runs[0].StepsPerSec != 2 {
		t.Errorf("stats %+v", runs[0])
	}
	// Mean of the last 10% (steps 46-50) of 2/step.
	want := (2.0/46 + 2.0/47 + 2.0/48 + 2.0/49 + 2.0/50) / 5
	if d := runs[0].MeanLast10 - want; d > 1e-12 || d < -1e-12 {
		t.Errorf("mean last 10%% = %g, want %g", runs[0].MeanLast10, want)
	}
	var b bytes.Buffer
	if err := CompareTable(&b, runs); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"r4", "r16", "r32", "0.04"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
	for _, f := range []func(string, []*Run) error{LossCurves, RankCurve} {
		p := filepath.Join(root, "plot.png")
		if err := f(p, runs); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
			t.Errorf("plot not written: %v", err)
		}
	}
	if _, err := LoadRun(filepath.Join(root, "missing")); err == nil {
		t.Error("missing run accepted")
	}
}
