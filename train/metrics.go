package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
)

// MetricsRecord is one line of metrics.jsonl: what happened at a step.
type MetricsRecord struct {
	Step int `json:"step"`
	// Loss is the step's loss, LossSmooth an exponential moving average.
	Loss       float64 `json:"loss"`
	LossSmooth float64 `json:"loss_smooth"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"`
	// Time is the run's seconds so far; a resume continues from the time
	// stored in its checkpoint (work an interruption lost is not counted).
	Time float64 `json:"time"`
	// StepTime is the duration of this step in seconds.
	StepTime float64 `json:"step_time"`
	// HostMemory is the process's resident memory in bytes.
	HostMemory int64 `json:"host_mem"`
	// Timesteps are the flow times drawn for the step.
	Timesteps []float64 `json:"t,omitempty"`
}

// MetricsWriter appends records to a metrics.jsonl file, one JSON object
// per line, flushed after each record so a crash loses at most one line.
type MetricsWriter struct {
	f *os.File
}

// OpenMetrics opens (appending) the metrics file of a run. When resuming,
// records after resumeStep are dropped first so the file stays one
// consistent history.
func OpenMetrics(path string, resumeStep int) (*MetricsWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if resumeStep >= 0 {
		if recs, err := ReadMetrics(path); err == nil {
			var keep []MetricsRecord
			for _, r := range recs {
				if r.Step <= resumeStep {
					keep = append(keep, r)
				}
			}
			if err := writeMetrics(path, keep); err != nil {
				return nil, err
			}
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening metrics: %w", err)
	}
	return &MetricsWriter{f: f}, nil
}

// Write appends one record.
func (w *MetricsWriter) Write(r MetricsRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}

// Close closes the file.
func (w *MetricsWriter) Close() error { return w.f.Close() }

// ReadMetrics reads a metrics.jsonl file; a truncated last line (crash) is
// ignored.
func ReadMetrics(path string) ([]MetricsRecord, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	out := make([]MetricsRecord, 0, len(lines))
	for i, l := range lines {
		var r MetricsRecord
		if err := json.Unmarshal(l, &r); err != nil {
			if i == len(lines)-1 {
				break // a line cut short by a crash
			}
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// writeMetrics replaces the metrics file atomically (a kill while it is
// rewritten keeps the old history).
func writeMetrics(path string, recs []MetricsRecord) error {
	return fsutil.WriteAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Smoother is the exponential moving average shown as the smoothed loss.
type Smoother struct {
	// Beta is the decay (0.98 by default); values are bias-corrected.
	Beta  float64
	value float64
	n     int
}

// Add folds in x and returns the bias-corrected average.
func (s *Smoother) Add(x float64) float64 {
	b := s.Beta
	if b == 0 {
		b = 0.98
	}
	s.n++
	s.value = b*s.value + (1-b)*x
	return s.value / (1 - math.Pow(b, float64(s.n)))
}
