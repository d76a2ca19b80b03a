package autoencoder

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/flora-ml/flora/train"
)

// DefaultKLWeight is the weight of the KL term when Options.KLWeight is 0: a
// light pull of the posterior towards N(0, 1) that keeps the log-variance
// bounded without blurring reconstructions.
const DefaultKLWeight = 1e-6

// Options configure a training run.
type Options struct {
	// Steps is the number of optimizer steps of the whole run.
	Steps int
	// BatchSize is the number of crops per step.
	BatchSize int
	// Crop is the side of the square training crops in pixels: a multiple
	// of the autoencoder's pixels per latent token (Config.PixelsPerLatent).
	Crop int
	// Flip enables random horizontal flips of the crops.
	Flip bool
	// LR is the learning-rate schedule (its Total is set to Steps).
	LR train.LRSchedule
	// Optimizer configures the optimizer (AdamW, clipping by MaxGradNorm).
	Optimizer train.OptimizerConfig
	// KLWeight weighs the KL term (0: DefaultKLWeight; negative: none).
	KLWeight float64
	// Seed seeds the crops, flips and the posterior noise.
	Seed uint64
	// SaveEvery writes a checkpoint every N steps (0: only at the end);
	// KeepLast keeps the newest K checkpoints (0: all).
	SaveEvery, KeepLast int
	// OutDir receives NAME.safetensors, checkpoints/, previews/,
	// metrics.jsonl and loss.png; Name names the weights file.
	OutDir, Name string
	// Config is the resolved job config recorded with checkpoints, and
	// Backend the backend's name (both informative).
	Config, Backend string
	// Log receives progress lines (nil: none).
	Log io.Writer
	// OnStep, OnCheckpoint and OnPreview are called after a step, a saved
	// checkpoint (its folder) and a written preview (its PNG); any may be nil.
	OnStep       func(*train.StepResult)
	OnCheckpoint func(step int, dir string)
	OnPreview    func(step int, path string)
}

// klWeight is the effective KL weight.
func (o Options) klWeight() float64 {
	switch {
	case o.KLWeight == 0:
		return DefaultKLWeight
	case o.KLWeight < 0:
		return 0
	}
	return o.KLWeight
}

// validate checks the options against the autoencoder's pixels per latent
// token (ph×pw).
func (o Options) validate(ph, pw int) error {
	var errs []error
	if o.Steps < 1 {
		errs = append(errs, fmt.Errorf("steps must be >= 1, got %d", o.Steps))
	}
	if o.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size must be >= 1, got %d", o.BatchSize))
	}
	if o.Crop <= 0 || o.Crop%ph != 0 || o.Crop%pw != 0 {
		errs = append(errs, fmt.Errorf("crop size %d must be a positive multiple of the autoencoder's %dx%d pixels per latent token", o.Crop, ph, pw))
	}
	if math.IsNaN(o.KLWeight) || math.IsInf(o.KLWeight, 0) {
		errs = append(errs, fmt.Errorf("kl weight must be finite, got %g", o.KLWeight))
	}
	if o.SaveEvery < 0 || o.KeepLast < 0 {
		errs = append(errs, fmt.Errorf("save every (%d) and keep last (%d) must be >= 0", o.SaveEvery, o.KeepLast))
	}
	if o.OutDir == "" || o.Name == "" {
		errs = append(errs, errors.New("an output folder and a run name are required"))
	}
	if err := o.Optimizer.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
