package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/train"
	"github.com/flora-ml/flora/train/autoencoder"
)

// AutoencoderResult is what an autoencoder run did.
type AutoencoderResult struct {
	// Summary holds the run's steps, losses, last checkpoint and exported
	// file (OUT/NAME.safetensors).
	Summary *autoencoder.Summary
	// OutDir is the run folder.
	OutDir string
	// Interrupted is set when ctx was cancelled: a checkpoint was saved and
	// the run continues with Resume "auto".
	Interrupted bool
}

// PreparedAutoencoder is a checked autoencoder job with its starting
// autoencoder and images loaded, ready to train.
type PreparedAutoencoder struct {
	cfg     *job.Config
	opts    RunOptions
	trainer *autoencoder.Trainer
	// Images is the number of training images, Params the number of trained
	// values.
	Images int
	Params int64
	// Previous lists an earlier run's outputs that Overwrite will remove.
	Previous []string
	start    runStart
}

// PrepareAutoencoder checks a validated job of kind autoencoder — input
// folders, output folder, resume target, earlier run — opens the backend,
// builds the starting autoencoder (model.vae) and reads the images.
func PrepareAutoencoder(cfg *job.Config, opts RunOptions) (*PreparedAutoencoder, error) {
	if !cfg.IsAutoencoder() {
		return nil, fmt.Errorf("job %s is of kind %s, not %s", cfg.Name, cfg.Kind, job.KindAutoencoder)
	}
	if opts.Overwrite && opts.Resume != "" {
		return nil, errors.New("overwrite starts the run again and resume continues it: give one of them")
	}
	if err := autoencoderPreflight(cfg); err != nil {
		return nil, err
	}
	p := &PreparedAutoencoder{cfg: cfg, opts: opts, start: runStart{resume: opts.Resume}}
	var err error
	if p.start.candidates, err = resumeCandidates(cfg.Output.Dir, opts.Resume); err != nil {
		return nil, err
	}
	if opts.Resume == "" {
		if p.Previous, err = previousAutoencoderRun(cfg, opts.Overwrite); err != nil {
			return nil, err
		}
	}
	be, info, err := selectBackend(cfg, opts.Backend, opts.Reporter)
	if err != nil {
		return nil, err
	}
	p.start.backend = info.Name
	v, err := startingAutoencoder(be, cfg)
	if err != nil {
		return nil, err
	}
	crop := cfg.Dataset.Resolutions[0]
	folders := make([]string, len(cfg.Dataset.Folders))
	for i, f := range cfg.Dataset.Folders {
		folders[i] = f.Path
	}
	imgs, skipped, err := autoencoder.LoadImages(folders, crop)
	if err != nil {
		return nil, fmt.Errorf("dataset.folders: %w", err)
	}
	if len(skipped) > 0 {
		opts.Reporter.printf("skipped %d image(s) smaller than the %d-pixel crop (dataset.resolutions): %s", len(skipped), crop, strings.Join(skipped, ", "))
	}
	yml, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	t := cfg.Train
	rep := opts.Reporter
	aopts := autoencoder.Options{Steps: t.Steps, BatchSize: t.BatchSize, Crop: crop, Flip: cfg.Dataset.Flip,
		LR:        train.LRSchedule{Kind: t.Schedule, Base: t.LR, Min: t.MinLR, Warmup: t.WarmupSteps},
		Optimizer: OptimizerConfig(cfg), Seed: uint64(t.Seed), SaveEvery: t.SaveEvery, KeepLast: t.KeepLast,
		OutDir: cfg.Output.Dir, Name: cfg.Name, Config: yml, Backend: info.Name, Log: rep.Log,
		OnStep:       func(r *train.StepResult) { rep.emit(Event{Kind: EventStep, Step: r.Step, Result: r}) },
		OnCheckpoint: func(step int, dir string) { rep.emit(Event{Kind: EventCheckpoint, Step: step, Path: dir}) },
		OnPreview:    func(step int, path string) { rep.emit(Event{Kind: EventPreview, Step: step, Path: path}) },
	}
	if p.trainer, err = autoencoder.New(be, v, imgs, aopts); err != nil {
		return nil, fmt.Errorf("job %s: %w", cfg.Name, err)
	}
	p.Images, p.Params = len(imgs.List), p.trainer.NumParams()
	return p, nil
}

// Train resumes when asked, removes an earlier run's outputs when asked
// (Overwrite), and trains until the last step or until ctx is cancelled.
func (p *PreparedAutoencoder) Train(ctx context.Context) (*AutoencoderResult, error) {
	if err := clearPreviousRun(p.Previous, p.opts.Reporter); err != nil {
		return nil, err
	}
	if err := p.resume(); err != nil {
		return nil, err
	}
	sum, err := p.trainer.Run(ctx)
	res := &AutoencoderResult{Summary: sum, OutDir: p.cfg.Output.Dir, Interrupted: sum != nil && sum.Interrupted}
	if err == nil && sum.Output != "" {
		p.opts.Reporter.printf("autoencoder written to %s (load it with model.vae)", sum.Output)
	}
	return res, err
}

// TrainAutoencoder checks, prepares and runs a validated autoencoder job.
func TrainAutoencoder(ctx context.Context, cfg *job.Config, opts RunOptions) (*AutoencoderResult, error) {
	p, err := PrepareAutoencoder(cfg, opts)
	if err != nil {
		return nil, err
	}
	return p.Train(ctx)
}

// resume restores the newest usable checkpoint the resume option names
// (with auto, a checkpoint that fails to load falls back to an older one).
func (p *PreparedAutoencoder) resume() error {
	rep := p.opts.Reporter
	if p.start.resume == "" {
		return nil
	}
	if len(p.start.candidates) == 0 {
		rep.printf("no checkpoint in %s: starting from step 0", checkpointsDir(p.cfg.Output.Dir))
		return nil
	}
	var errs []error
	for _, dir := range p.start.candidates {
		err := p.trainer.LoadCheckpoint(dir)
		if err == nil {
			rep.printf("resumed from %s at step %d", dir, p.trainer.StepsDone())
			warnChangedSettings(dir, p.cfg, p.start.backend, rep)
			return nil
		}
		if p.start.resume != "auto" || errors.Is(err, autoencoder.ErrNotAutoencoderCheckpoint) {
			return fmt.Errorf("resuming from %s: %w", dir, err)
		}
		rep.printf("warning: checkpoint %s cannot be resumed (%v); trying an older one", dir, err)
		errs = append(errs, err)
	}
	return fmt.Errorf("no checkpoint in %s could be resumed (start again with --overwrite): %w", checkpointsDir(p.cfg.Output.Dir), errors.Join(errs...))
}

// startingAutoencoder builds model.vae: a built-in (embedded:tiny,
// random:tiny seeded by train.seed) or a file or folder, in float32.
func startingAutoencoder(be backends.Backend, cfg *job.Config) (*vae.VAE, error) {
	opts := vae.Options{DType: dtypes.Float32}
	var v *vae.VAE
	var err error
	switch cfg.Model.VAE {
	case "embedded:tiny":
		if v, err = vae.NewAnalytic(be, bundle.EmbeddedTinyVAEConfig(), opts); err == nil {
			err = quietPosterior(v)
		}
	case "random:tiny":
		v, err = vae.NewRandom(be, bundle.EmbeddedTinyVAEConfig(), uint64(cfg.Train.Seed), opts)
	default:
		v, err = bundle.LoadVAE(be, cfg.Model.VAE, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("model.vae %s: %w", cfg.Model.VAE, err)
	}
	return v, nil
}

// analyticLogVar is the log-variance given to the analytic autoencoder's
// posterior: its hand-set weights leave the log-variance channels at 0
// (standard deviation 1, as large as the latents themselves), which FLUX.2
// never uses (it encodes the mean) but the trainer samples from; e^(−12/2)
// ≈ 0.0025 makes the starting point reconstruct as well sampled as it does
// from the mean.
const analyticLogVar = -12

// quietPosterior sets the analytic autoencoder's log-variance: the bias of
// its last encoder layer (quant_conv, an identity there) for channels
// [Z, 2Z). The posterior mean, and so encoding, is unchanged.
func quietPosterior(v *vae.VAE) error {
	name := "encoder.quant_conv.bias"
	if !v.Config.QuantConv {
		name = "encoder.conv_out.bias"
	}
	b := v.Weight(name)
	if b == nil {
		return fmt.Errorf("the analytic autoencoder has no %s", name)
	}
	vals := make([]float32, b.Shape().Size())
	tensors.ConstFlatData(b, func(f []float32) { copy(vals, f) })
	for i := v.Config.ZChannels; i < 2*v.Config.ZChannels; i++ {
		vals[i] = analyticLogVar
	}
	return v.SetWeight(name, tensors.FromFlatDataAndDimensions(vals, len(vals)))
}

// autoencoderPreflight checks the inputs exist and the output folder lies
// outside the dataset and is writable.
func autoencoderPreflight(cfg *job.Config) error {
	var list []job.Problem
	if p := cfg.Model.VAE; !strings.HasPrefix(p, "embedded:") && !strings.HasPrefix(p, "random:") {
		if _, err := os.Stat(p); err != nil {
			list = append(list, job.Problem{Path: "model.vae", Msg: err.Error()})
		}
	}
	for i, d := range cfg.Dataset.Folders {
		if st, err := os.Stat(d.Path); err != nil || !st.IsDir() {
			list = append(list, job.Problem{Path: fmt.Sprintf("dataset.folders.%d.path", i), Msg: fmt.Sprintf("%s is not a folder", d.Path)})
		}
	}
	if inData := outputInDataset(cfg); len(inData) > 0 {
		list = append(list, inData...)
	} else if err := os.MkdirAll(cfg.Output.Dir, 0o755); err != nil {
		list = append(list, job.Problem{Path: "output.dir", Msg: err.Error()})
	}
	if len(list) > 0 {
		return &job.Problems{Source: "job", List: list}
	}
	return nil
}

// previousAutoencoderRun refuses to mix a fresh run with an earlier one in
// output.dir, or with overwrite lists the earlier run's outputs to remove.
func previousAutoencoderRun(cfg *job.Config, overwrite bool) ([]string, error) {
	dir := cfg.Output.Dir
	var found []string
	for _, p := range []string{checkpointsDir(dir), filepath.Join(dir, "previews"), filepath.Join(dir, "metrics.jsonl"),
		filepath.Join(dir, "loss.png"), autoencoder.OutputPath(dir, cfg.Name)} {
		if _, err := os.Lstat(p); err == nil {
			found = append(found, p)
		}
	}
	if len(found) == 0 || overwrite {
		return found, nil
	}
	return nil, fmt.Errorf("output.dir %s already holds a run (%s); continue it with --resume auto, start a new run in another folder with --set output.dir=runs/NEW, or replace it with --overwrite",
		dir, strings.Join(found, ", "))
}
