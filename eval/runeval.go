package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/flora-ml/flora/internal/fsutil"
)

// RunEvalFile is the name of a run's evaluation record in its folder,
// written by `flora eval run` (pipeline.EvalRun) and read by LoadRun.
const RunEvalFile = "eval.json"

// RunEval is a run's evaluation: the validation loss of its exported
// adapter, the style score of samples of held-out prompts with and without
// the adapter, and those samples.
type RunEval struct {
	// Adapter is the adapter file evaluated.
	Adapter string `json:"adapter"`
	// ValidationLoss is the adapter's mean validation loss on the job's
	// dataset (fixed timesteps and noise); BaseValidationLoss the base
	// model's, for reference.
	ValidationLoss     float64 `json:"validation_loss"`
	BaseValidationLoss float64 `json:"base_validation_loss"`
	// ValidationSet names the images the losses are measured on: the
	// job's dataset.validation folder, or "training images" (empty in
	// records written before it was kept).
	ValidationSet string `json:"validation_set,omitempty"`
	// StyleScore and StyleStd are the mean and spread of the samples'
	// StyleScore.
	StyleScore float64 `json:"style_score"`
	StyleStd   float64 `json:"style_std"`
	// BaseStyleScore and BaseStyleStd are the same for the base model
	// sampled without the adapter (same prompts and seed), so the score
	// shows what the adapter changed. Meaningful only with BaseSamples.
	BaseStyleScore float64 `json:"base_style_score"`
	BaseStyleStd   float64 `json:"base_style_std"`
	// Prompts are the sampled prompts; Samples the PNG of each, in order,
	// relative to the run folder (e.g. "eval/00-seed1.png"); BaseSamples
	// the base model's (e.g. "eval/base/00-seed1.png"; none in records
	// written before they were drawn).
	Prompts     []string `json:"prompts"`
	Samples     []string `json:"samples"`
	BaseSamples []string `json:"base_samples,omitempty"`
	// Seed, SampleSteps and the size are the sampling settings.
	Seed        uint64 `json:"seed"`
	SampleSteps int    `json:"sample_steps"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
}

// WriteRunEval writes eval.json into the run folder dir.
func WriteRunEval(dir string, e RunEval) error {
	for name, v := range map[string]float64{"validation_loss": e.ValidationLoss, "base_validation_loss": e.BaseValidationLoss,
		"style_score": e.StyleScore, "base_style_score": e.BaseStyleScore} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: %s is %g, not a finite number", filepath.Join(dir, RunEvalFile), name, v)
		}
	}
	if len(e.Samples) != len(e.Prompts) {
		return fmt.Errorf("%s: %d samples for %d prompts", filepath.Join(dir, RunEvalFile), len(e.Samples), len(e.Prompts))
	}
	if len(e.BaseSamples) != 0 && len(e.BaseSamples) != len(e.Prompts) {
		return fmt.Errorf("%s: %d base samples for %d prompts", filepath.Join(dir, RunEvalFile), len(e.BaseSamples), len(e.Prompts))
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, RunEvalFile), append(b, '\n'))
}

// ReadRunEval reads eval.json of a run folder; a run without one returns
// nil and no error.
func ReadRunEval(dir string) (*RunEval, error) {
	path := filepath.Join(dir, RunEvalFile)
	b, err := fsutil.ReadFileLimited(path, 16<<20, "a run's eval.json")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e RunEval
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w (rewrite it with flora eval run)", path, err)
	}
	if len(e.Samples) != len(e.Prompts) {
		return nil, fmt.Errorf("%s: %d samples for %d prompts (rewrite it with flora eval run)", path, len(e.Samples), len(e.Prompts))
	}
	if len(e.BaseSamples) != 0 && len(e.BaseSamples) != len(e.Prompts) {
		return nil, fmt.Errorf("%s: %d base samples for %d prompts (rewrite it with flora eval run)", path, len(e.BaseSamples), len(e.Prompts))
	}
	return &e, nil
}

// adapterBytes is the total size of the exported adapter files in a run
// folder: every .safetensors file directly in it (each format, and the EMA
// adapter when kept; checkpoints are in a subfolder).
func adapterBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", dir, err)
	}
	var n int64
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".safetensors") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return 0, fmt.Errorf("run %s: %w", dir, err)
		}
		n += info.Size()
	}
	return n, nil
}
