package train

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestMetricsResumeTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "metrics.jsonl")
	w, err := OpenMetrics(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 5; s++ {
		if err := w.Write(MetricsRecord{Step: s, Loss: float64(s)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// A crash cut the last line short.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":6,"lo`)
	f.Close()
	recs, err := ReadMetrics(path)
	if err != nil || len(recs) != 5 {
		t.Fatalf("read %d records, err %v", len(recs), err)
	}
	// Resuming from the step-3 checkpoint drops steps 4-6.
	w, err = OpenMetrics(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(MetricsRecord{Step: 4, Loss: 40})
	w.Close()
	recs, _ = ReadMetrics(path)
	if len(recs) != 4 || recs[3].Loss != 40 {
		t.Errorf("after resume: %+v", recs)
	}
}

func TestSmoother(t *testing.T) {
	var s Smoother
	if v := s.Add(2); math.Abs(v-2) > 1e-12 {
		t.Errorf("first value %g, want 2 (bias-corrected)", v)
	}
	for i := 0; i < 1000; i++ {
		s.Add(1)
	}
	if v := s.Add(1); math.Abs(v-1) > 1e-6 {
		t.Errorf("converged value %g", v)
	}
}
