// Package eval compares training runs and adapters: validation loss at
// fixed timesteps and noise, run-vs-run and rank-vs-rank tables (tablewriter)
// and plots (PNG).
package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/train"
)

// RunInfo describes a training run; `flora train` writes it as run.json in
// the run's output folder.
type RunInfo struct {
	Name          string  `json:"name"`
	Variant       string  `json:"variant"`
	Rank          int     `json:"rank"`
	Alpha         float64 `json:"alpha"`
	Targets       int     `json:"targets"`
	AdapterParams int64   `json:"adapter_params"`
	Steps         int     `json:"steps"`
	LR            float64 `json:"lr"`
	Quantize      string  `json:"quantize"`
	Dataset       string  `json:"dataset,omitempty"`
}

// WriteRunInfo writes run.json into dir.
func WriteRunInfo(dir string, info RunInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, "run.json"), b)
}

// Run is a finished or running training run read from its folder.
type Run struct {
	Dir     string
	Info    RunInfo
	Metrics []train.MetricsRecord
	// Derived statistics.
	StepsDone   int
	FinalSmooth float64
	MinSmooth   float64
	MeanFirst10 float64
	MeanLast10  float64
	StepsPerSec float64
	// TrainSeconds is the sum of the recorded step times.
	TrainSeconds float64
	// AdapterBytes is the size of the exported adapter files (0 before the
	// first export).
	AdapterBytes int64
	// Eval is the run's eval.json, nil when it has none.
	Eval *RunEval
}

// LoadRun reads run.json, metrics.jsonl and (when present) eval.json of a
// run folder, and sizes its exported adapter files.
func LoadRun(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if b, err := fsutil.ReadFileLimited(filepath.Join(dir, "run.json"), 16<<20, "a run's run.json"); err == nil {
		if err := json.Unmarshal(b, &r.Info); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "run.json"), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if r.Info.Name == "" {
		r.Info.Name = filepath.Base(dir)
	}
	m, err := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w (is it a flora run folder?)", dir, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("run %s has no metrics yet", dir)
	}
	r.Metrics = m
	r.StepsDone = m[len(m)-1].Step
	r.FinalSmooth = m[len(m)-1].LossSmooth
	r.MinSmooth = math.Inf(1)
	var t float64
	for _, x := range m {
		r.MinSmooth = math.Min(r.MinSmooth, x.LossSmooth)
		t += x.StepTime
	}
	k := max(1, len(m)/10)
	r.MeanFirst10 = meanLoss(m[:k])
	r.MeanLast10 = meanLoss(m[len(m)-k:])
	if t > 0 {
		r.StepsPerSec = float64(len(m)) / t
	}
	r.TrainSeconds = t
	if r.AdapterBytes, err = adapterBytes(dir); err != nil {
		return nil, err
	}
	if r.Eval, err = ReadRunEval(dir); err != nil {
		return nil, err
	}
	return r, nil
}

func meanLoss(m []train.MetricsRecord) float64 {
	var s float64
	for _, x := range m {
		s += x.Loss
	}
	return s / float64(len(m))
}

// SortByRank orders runs by rank, then name.
func SortByRank(runs []*Run) {
	sort.SliceStable(runs, func(i, j int) bool {
		if runs[i].Info.Rank != runs[j].Info.Rank {
			return runs[i].Info.Rank < runs[j].Info.Rank
		}
		return runs[i].Info.Name < runs[j].Info.Name
	})
}
