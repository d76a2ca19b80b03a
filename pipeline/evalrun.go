package pipeline

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/data/synth"
	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
)

// EvalRunOptions say how EvalRun evaluates a finished run. Zero values
// take the defaults noted.
type EvalRunOptions struct {
	// Adapter is the adapter file (default: the run's export,
	// output.dir/NAME.safetensors in the job's first output format).
	Adapter string
	// Prompts are sampled (nil: synth.StylePrompts, the held-out flora
	// style prompts).
	Prompts []string
	// Seed is the sampling seed of every prompt and the validation noise
	// seed.
	Seed uint64
	// Steps, Width and Height are the sampling settings (0: the job's
	// sample.steps, sample.width and sample.height).
	Steps, Width, Height int
	// Backend overrides model.backend.
	Backend string
	// Reporter receives progress.
	Reporter
}

// EvalSamplesDir is the folder of a run's evaluation samples; the base
// model's are in its subfolder EvalBaseDir.
const (
	EvalSamplesDir = "eval"
	EvalBaseDir    = "base"
)

// EvalRun evaluates a trained run: it samples the run's adapter for each
// prompt at a fixed seed into output.dir/eval/ and the base model (no
// adapter) for the same prompts and seed into output.dir/eval/base/,
// scores both sets with eval.StyleScore, measures the validation loss of
// the base model and the adapter (EvalLoss: on dataset.validation when the
// job names it, else on the training images), and writes
// output.dir/eval.json (what `flora eval compare --report` reads).
func EvalRun(ctx context.Context, cfg *job.Config, opts EvalRunOptions) (*eval.RunEval, error) {
	o, err := evalRunDefaults(cfg, opts)
	if err != nil {
		return nil, err
	}
	run := cfg.Output.Dir
	out := &eval.RunEval{Adapter: o.Adapter, Prompts: o.Prompts, Seed: o.Seed, SampleSteps: o.Steps, Width: o.Width, Height: o.Height}
	var st eval.StyleStats
	if out.Samples, st, err = sampleStyle(ctx, cfg, o, []LoRA{{Path: o.Adapter, Scale: 1}}, filepath.Join(run, EvalSamplesDir)); err != nil {
		return nil, fmt.Errorf("sampling %s: %w", o.Adapter, err)
	}
	out.StyleScore, out.StyleStd = st.Mean, st.Std
	if out.BaseSamples, st, err = sampleStyle(ctx, cfg, o, nil, filepath.Join(run, EvalSamplesDir, EvalBaseDir)); err != nil {
		return nil, fmt.Errorf("sampling the base model: %w", err)
	}
	out.BaseStyleScore, out.BaseStyleStd = st.Mean, st.Std
	loss, err := EvalLoss(ctx, cfg, EvalOptions{Backend: o.Backend, Adapters: []LoRA{{Path: o.Adapter, Scale: 1}}, Seed: o.Seed, Reporter: o.Reporter})
	if err != nil {
		return nil, fmt.Errorf("validation loss of %s: %w", o.Adapter, err)
	}
	out.BaseValidationLoss, out.ValidationLoss, out.ValidationSet = loss.Rows[0].Mean, loss.Rows[1].Mean, loss.Set
	if err := eval.WriteRunEval(run, *out); err != nil {
		return nil, err
	}
	o.printf("wrote %s: validation loss %.5f (base %.5f) on %s; style score %.3f ± %.3f (base %.3f ± %.3f) over %d prompts",
		filepath.Join(run, eval.RunEvalFile), out.ValidationLoss, out.BaseValidationLoss, out.ValidationSet,
		out.StyleScore, out.StyleStd, out.BaseStyleScore, out.BaseStyleStd, len(out.Prompts))
	return out, nil
}

// sampleStyle samples the job's model with loras (none: the base model)
// for EvalRun's prompts into dir and scores the samples. It returns their
// paths relative to the run folder, in prompt order.
func sampleStyle(ctx context.Context, cfg *job.Config, o EvalRunOptions, loras []LoRA, dir string) ([]string, eval.StyleStats, error) {
	dtype := "bf16"
	if cfg.Model.DType == "f32" {
		dtype = "f32"
	}
	backend := o.Backend
	if backend == "" {
		backend = cfg.Model.Backend
	}
	q, err := QuantOptions(cfg)
	if err != nil {
		return nil, eval.StyleStats{}, err
	}
	res, err := Sample(ctx, SampleOptions{Model: cfg.Model.Path, VAE: cfg.Model.VAE, TextEncoder: cfg.Model.TextEncoder, Variant: cfg.Model.Variant,
		Quantize: q.Scheme, DType: dtype, Backend: backend, LoRAs: loras, Prompts: o.Prompts,
		Negative: cfg.Sample.Negative, Steps: o.Steps, Guidance: cfg.Sample.Guidance, Seed: o.Seed, Width: o.Width, Height: o.Height,
		Out: dir, VAESetting: "model.vae", TextEncoderSetting: "model.text_encoder", Reporter: o.Reporter})
	if err != nil {
		return nil, eval.StyleStats{}, err
	}
	if len(res.Files) != len(o.Prompts) {
		return nil, eval.StyleStats{}, fmt.Errorf("%d images for %d prompts", len(res.Files), len(o.Prompts))
	}
	imgs := make([]image.Image, len(res.Files))
	rels := make([]string, len(res.Files))
	for i, f := range res.Files {
		if imgs[i], err = decodeSample(f); err != nil {
			return nil, eval.StyleStats{}, err
		}
		rel, err := filepath.Rel(cfg.Output.Dir, f)
		if err != nil {
			return nil, eval.StyleStats{}, err
		}
		rels[i] = filepath.ToSlash(rel)
	}
	return rels, eval.DatasetStyle(imgs), nil
}

// evalRunDefaults fills EvalRun's defaults from the job and checks that
// the adapter exists.
func evalRunDefaults(cfg *job.Config, o EvalRunOptions) (EvalRunOptions, error) {
	if o.Adapter == "" {
		format := lora.FormatComfy
		if len(cfg.Output.Formats) > 0 {
			f, err := lora.ParseFormat(cfg.Output.Formats[0])
			if err != nil {
				return o, fmt.Errorf("output.formats: %w", err)
			}
			format = f
		}
		o.Adapter = ExportPath(cfg.Output.Dir, cfg.Name, format)
	}
	if st, err := os.Stat(o.Adapter); err != nil || st.IsDir() {
		return o, fmt.Errorf("adapter %s is not a file: train the job first (flora train --config ...), or name the adapter to evaluate", o.Adapter)
	}
	if o.Prompts == nil {
		o.Prompts = synth.StylePrompts()
	}
	if len(o.Prompts) == 0 {
		return o, fmt.Errorf("no prompts to sample: give at least one")
	}
	if o.Steps == 0 {
		o.Steps = cfg.Sample.Steps
	}
	if o.Width == 0 {
		o.Width = cfg.Sample.Width
	}
	if o.Height == 0 {
		o.Height = cfg.Sample.Height
	}
	return o, nil
}

// decodeSample reads a sample PNG back for scoring.
func decodeSample(path string) (image.Image, error) {
	b, err := imageio.ReadFile(path, 0)
	if err != nil {
		return nil, err
	}
	img, _, err := imageio.Decode(b, imageio.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("reading back sample %s: %w", path, err)
	}
	return img, nil
}
