package pipeline

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/job"
)

// TestEvalLossValidationSet: EvalLoss measures on dataset.validation when
// the job names it (the demo's 8 held-out images) and on the training
// images (the demo's 24) otherwise; a missing folder is an error naming
// the key.
func TestEvalLossValidationSet(t *testing.T) {
	const demo = "../examples/tiny/train.yaml"
	for _, tc := range []struct {
		name        string
		set         string
		wantSet     string
		wantSamples int
		wantErr     string
	}{
		{"held-out folder", "", filepath.Join("..", "examples", "tiny", "holdout"), 8, ""},
		{"training images", "dataset.validation=", TrainingImages, 24, ""},
		{"missing folder", "dataset.validation=nowhere", "", 0, "dataset.validation: ../examples/tiny/nowhere is not a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets := []string{"output.dir=" + t.TempDir()}
			if tc.set != "" {
				sets = append(sets, tc.set)
			}
			cfg, err := job.Load(demo, sets)
			if err != nil {
				t.Fatal(err)
			}
			res, err := EvalLoss(context.Background(), cfg, EvalOptions{Backend: testBackend(), Seed: 1, Times: []float64{0.5},
				Reporter: Reporter{Log: io.Discard}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(filepath.ToSlash(err.Error()), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Set != tc.wantSet || res.Samples != tc.wantSamples || len(res.Rows) != 1 {
				t.Errorf("set %q, %d samples, %d rows; want %q, %d, 1", res.Set, res.Samples, len(res.Rows), tc.wantSet, tc.wantSamples)
			}
		})
	}
}
