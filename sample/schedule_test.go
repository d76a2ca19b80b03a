package sample

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestOfficialReferenceSchedules reproduces every schedule the official code
// recorded in config.json ("STEPS x SEQLEN" → values).
func TestOfficialReferenceSchedules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.ReferenceDir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Schedules map[string][]float64 `json:"schedules"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Schedules) == 0 {
		t.Fatal("config.json has no schedules")
	}
	for key, want := range cfg.Schedules {
		t.Run(key, func(t *testing.T) {
			steps, seq, ok := strings.Cut(key, "x")
			n, err1 := strconv.Atoi(steps)
			l, err2 := strconv.Atoi(seq)
			if !ok || err1 != nil || err2 != nil {
				t.Fatalf("bad key %q", key)
			}
			got, err := Schedule(n, l)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("len %d, want %d", len(got), len(want))
			}
			for i := range got {
				// The fixture stores float32 values.
				if math.Abs(got[i]-want[i]) > 1e-6 {
					t.Errorf("t[%d] = %.8f, want %.8f", i, got[i], want[i])
				}
			}
		})
	}
}

// TestScheduleSpecValues checks mu and schedules from flux2-spec.md §6.1.
func TestScheduleSpecValues(t *testing.T) {
	tests := []struct {
		seq, steps int
		mu         float64
		sched      []float64
	}{
		{4096, 4, 2.291180, []float64{1.0, 0.967384, 0.908144, 0.767200, 0.0}},
		{1024, 4, 2.030690, []float64{1.0, 0.958085, 0.883982, 0.717497, 0.0}},
		{256, 4, 1.965567, []float64{1.0, 0.955391, 0.877134, 0.704112, 0.0}},
		{16, 2, 1.960378, []float64{1.0, 0.876574, 0.0}},
		{16384, 50, 3.229986, nil},
	}
	for _, tc := range tests {
		if mu := EmpiricalMu(tc.seq, tc.steps); math.Abs(mu-tc.mu) > 1e-6 {
			t.Errorf("mu(%d, %d) = %.6f, want %.6f", tc.seq, tc.steps, mu, tc.mu)
		}
		if tc.sched == nil {
			continue
		}
		got, _ := Schedule(tc.steps, tc.seq)
		for i := range tc.sched {
			if math.Abs(got[i]-tc.sched[i]) > 1e-6 {
				t.Errorf("schedule(%d, %d)[%d] = %.6f, want %.6f", tc.steps, tc.seq, i, got[i], tc.sched[i])
			}
		}
	}
	if _, err := Schedule(0, 16); err == nil {
		t.Error("Schedule accepted 0 steps")
	}
}
