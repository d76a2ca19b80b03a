package pipeline

import (
	"context"
	"fmt"
	"os"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/feed"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/train"
)

// EvalOptions say how EvalLoss measures.
type EvalOptions struct {
	// Backend overrides model.backend.
	Backend string
	// Adapters are measured one at a time after the base model.
	Adapters []LoRA
	// Seed fixes the noise, so numbers are comparable between calls.
	Seed uint64
	// Times are the flow times measured (nil: train.DefaultValidationTimes).
	Times []float64
	// Reporter receives progress.
	Reporter
}

// EvalRow is one model's validation loss.
type EvalRow struct {
	// Name is "base" or the adapter (FILE[:SCALE]).
	Name string
	// PerTime is the mean loss at each of EvalResult.Times; Mean their mean.
	PerTime []float64
	Mean    float64
}

// EvalResult is the validation loss of the base model and each adapter.
type EvalResult struct {
	Times []float64
	Rows  []EvalRow
	// Samples counts the validation samples (one epoch of the dataset).
	Samples int
	// Set names the images measured: the dataset.validation folder, or
	// TrainingImages.
	Set string
}

// TrainingImages is EvalResult.Set when a job has no dataset.validation
// and validation loss is measured on its training images.
const TrainingImages = "training images"

// validationJob returns the job whose dataset validation loss is measured
// on: with dataset.validation, a copy whose only folder is that one (same
// trigger, caption and bucket rules), else cfg itself; and the name of the
// set (EvalResult.Set). Either way validation is deterministic: every
// caption as written, center crops, no flips (cfg is not changed). Caches
// are keyed by content, so the validation images share the cache folder
// with the training images without colliding.
func validationJob(cfg *job.Config) (*job.Config, string) {
	c := *cfg
	c.Dataset.CaptionDropout, c.Dataset.ShuffleTags, c.Dataset.Flip, c.Dataset.Crop = 0, false, false, "center"
	if c.Dataset.Validation == "" {
		return &c, TrainingImages
	}
	c.Dataset.Folders = []job.DatasetFolder{{Path: c.Dataset.Validation}}
	return &c, c.Dataset.Validation
}

// EvalLoss measures the validation loss of the job's base model and of each
// adapter, at fixed timesteps and noise, on the dataset.validation folder
// when the job names one and on its training images otherwise. Validation
// is deterministic: every caption as written, center crops (cfg is not
// changed). Cancelling ctx stops between models.
func EvalLoss(ctx context.Context, cfg *job.Config, opts EvalOptions) (*EvalResult, error) {
	cfg, set := validationJob(cfg)
	if set != TrainingImages {
		if st, err := os.Stat(set); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("dataset.validation: %s is not a folder (give a folder of held-out images with captions, or remove the key to measure on the training images)", set)
		}
	}
	rep := opts.Reporter
	rep.printf("validation set: %s", set)
	be, _, err := selectBackend(cfg, opts.Backend, rep)
	if err != nil {
		return nil, err
	}
	l, err := loadJob(cfg, be, rep, nil, true)
	if err != nil {
		return nil, err
	}
	m := l.model
	samples, err := oneEpoch(l.cached)
	if err != nil {
		return nil, err
	}
	res := &EvalResult{Times: opts.Times, Samples: len(samples), Set: set}
	if res.Times == nil {
		res.Times = train.DefaultValidationTimes
	}
	measure := func(name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		per, mean, err := train.ValidationLoss(m, samples, res.Times, opts.Seed, cfg.Train.Guidance, ComputeDType(cfg))
		if err != nil {
			return err
		}
		res.Rows = append(res.Rows, EvalRow{Name: name, PerTime: per, Mean: mean})
		return nil
	}
	if err := measure("base"); err != nil {
		return nil, err
	}
	for _, a := range opts.Adapters {
		if err := lora.Detach(m); err != nil {
			return nil, err
		}
		if err := AttachLoRAs(m, []LoRA{a}, rep); err != nil {
			return nil, err
		}
		if err := measure(a.String()); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// oneEpoch returns one epoch of a cached dataset in a fixed order.
func oneEpoch(c *cachedData) ([]train.Sample, error) {
	plan, err := data.NewPlan(c.ds, data.PlanOptions{Seed: 1, BatchSize: 1})
	if err != nil {
		return nil, err
	}
	src, err := feed.New(c.ds, plan, c.store, c.feedOptions())
	if err != nil {
		return nil, err
	}
	var samples []train.Sample
	for range plan.BatchesPerEpoch() {
		batch, err := src.Next()
		if err != nil {
			return nil, err
		}
		samples = append(samples, batch...)
	}
	return samples, nil
}
