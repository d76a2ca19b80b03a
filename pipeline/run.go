package pipeline

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/feed"
	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/train"
)

// newRun loads everything a run needs — dataset, model components, caches,
// adapter, trainer (resumed when asked), previews and exports — in the
// order that keeps the text encoder and the transformer apart in memory.
func newRun(cfg *job.Config, be backends.Backend, start runStart, memory flux2.MemoryOptions, parallel flux2.ParallelOptions, rep Reporter) (*train.Runner, error) {
	var previews *previewPrompts
	l, err := loadJob(cfg, be, rep, func(comps *bundle.Components, text textenc.Contexts) (err error) {
		previews, err = encodePreviewPrompts(cfg, comps.Variant, text)
		return err
	}, true)
	if err != nil {
		return nil, err
	}
	comps, m, cached := l.comps, l.model, l.cached
	q, err := QuantOptions(cfg)
	if err != nil {
		return nil, err
	}
	rep.printf("model: FLUX.2 %s, %d parameters (%s storage)", comps.Variant.Name, m.Config.NumParams(), q.Scheme)

	seed := uint64(cfg.Train.Seed)
	src, err := newSource(cfg, cached)
	if err != nil {
		return nil, err
	}
	set, err := newTrained(cfg, m, seed, rep)
	if err != nil {
		return nil, err
	}
	opts, err := TrainOptions(cfg, comps.Variant)
	if err != nil {
		return nil, err
	}
	opts.Backend = start.backend
	opts.Memory, opts.Parallel = memory, parallel
	if parallel.Devices > 1 {
		rep.printf("devices: %d (batch %d per device; base %s)", parallel.Devices, cfg.Train.BatchSize/parallel.Devices, map[bool]string{true: "sharded", false: "replicated"}[parallel.ShardBase])
	}
	tr, err := train.NewTrainer(m, src, opts)
	if err != nil {
		return nil, err
	}
	if err := resumeTrainer(tr, cfg, start, rep); err != nil {
		return nil, err
	}
	yaml, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	rep.printf("%s; %d steps, checkpointing %v, %s compute%s", set.describe(cfg), opts.Steps, opts.Checkpointing, opts.DType, hostMemoryNote(opts.Memory))
	if err := writeRunInfo(cfg, comps.Variant, set); err != nil {
		return nil, err
	}
	meta := lora.Meta{Variant: comps.Variant, BaseHash: comps.TransformerID, Trigger: cfg.Dataset.Trigger, Targets: cfg.Adapter.Targets,
		Config: yaml, Title: cfg.Name}
	runner := &train.Runner{
		Trainer: tr, OutDir: cfg.Output.Dir, SaveEvery: cfg.Train.SaveEvery, PreviewEvery: cfg.Sample.Every,
		KeepLast: cfg.Train.KeepLast, Config: yaml, Out: rep.log(),
		ExportBytes: exportCopies(tr) * int64(len(cfg.Output.Formats)) * (4*set.params + 64<<10), // float32 factors + header
		Export:      set.exporter(cfg, m, tr, meta),
		OnStep:      func(res *train.StepResult) { rep.emit(Event{Kind: EventStep, Step: res.Step, Result: res}) },
		OnCheckpoint: func(step int, dir string) {
			rep.emit(Event{Kind: EventCheckpoint, Step: step, Path: dir})
		},
		OnPreview: func(step int, path string) { rep.emit(Event{Kind: EventPreview, Step: step, Path: path}) },
	}
	if cfg.Sample.Every > 0 {
		// Before the first step: the base images are sampled now (renderer).
		pv, err := previews.renderer(cfg, m, comps.VAE, opts.DType)
		if err != nil {
			rep.printf("warning: previews: %v (trying again at the first preview)", err)
		}
		runner.Preview = withEMA(tr, pv.render)
	}
	return runner, nil
}

// newSource is the run's training data: the dataset's plan (seeded by
// train.seed) served from the filled cache.
func newSource(cfg *job.Config, cached *cachedData) (*feed.Source, error) {
	plan, err := data.NewPlan(cached.ds, data.PlanOptions{Seed: uint64(cfg.Train.Seed), BatchSize: cfg.Train.BatchSize})
	if err != nil {
		return nil, err
	}
	return feed.New(cached.ds, plan, cached.store, cached.feedOptions())
}

// writeRunInfo records what the run trains (run.json, read by eval); a
// full-training run has rank 0 and counts every weight.
func writeRunInfo(cfg *job.Config, v flux2.Variant, set *trainedSet) error {
	info := eval.RunInfo{Name: cfg.Name, Variant: v.Name, Targets: len(set.targets), AdapterParams: set.params, Steps: cfg.Train.Steps, LR: cfg.Train.LR,
		Quantize: cfg.Model.Quantize, Dataset: cfg.Dataset.Folders[0].Path}
	if set.adapter != nil {
		info.Rank, info.Alpha = cfg.Adapter.Rank, set.targets[0].Alpha
	}
	return eval.WriteRunInfo(cfg.Output.Dir, info)
}

// withEMA renders previews with the trainer's EMA adapter when it keeps
// one: the averaged adapter is the one a user would ship.
func withEMA(tr *train.Trainer, render func(step int) (string, error)) func(step int) (string, error) {
	return func(step int) (path string, err error) {
		err = tr.WithEMA(func() (err error) {
			path, err = render(step)
			return err
		})
		return path, err
	}
}

// newAdapter creates the job's adapter (or loads adapter.init_from) and
// attaches it to the model for training.
func newAdapter(cfg *job.Config, m *flux2.Model, seed uint64, rep Reporter) (*lora.Adapter, []lora.Target, error) {
	targets, err := AdapterSpec(cfg).Plan(m.Config)
	if err != nil {
		return nil, nil, fmt.Errorf("adapter: %w", err)
	}
	adapter := lora.NewAdapter(targets, seed)
	lokr := cfg.Adapter.Type == "lokr"
	if lokr {
		adapter = lora.NewLoKrAdapter(targets, lora.LoKrOptions{Factor: cfg.Adapter.LoKrFactor(), FullMatrix: cfg.Adapter.LoKrFullMatrix()}, seed)
		rep.printf("adapter: LoKr, factor %d, w2 %s", cfg.Adapter.LoKrFactor(), map[bool]string{true: "whole (full_matrix)", false: "low-rank where rank < half its larger side"}[cfg.Adapter.LoKrFullMatrix()])
		if slices.Contains(cfg.Output.Formats, string(lora.FormatDiffusers)) {
			rep.printf("warning: output.formats: a LoKr adapter has no diffusers-named file; skipping diffusers (diffusers' Flux2 loader reads the comfy file)")
		}
	}
	if from := cfg.Adapter.InitFrom; from != "" {
		var format lora.Format
		var warnings []string
		if adapter, format, warnings, err = lora.Load(from, &m.Config); err != nil {
			return nil, nil, fmt.Errorf("adapter.init_from: %w", err)
		}
		for _, w := range warnings {
			rep.printf("warning: adapter.init_from %s: %s", from, w)
		}
		if adapter.IsLoKr() != lokr {
			return nil, nil, fmt.Errorf("adapter.init_from %s: the file holds a %s adapter but adapter.type is %s; set adapter.type to match", from,
				map[bool]string{true: "lokr", false: "lora"}[adapter.IsLoKr()], cfg.Adapter.Type)
		}
		rep.printf("adapter.init_from %s (%s): %d layers, %d parameters", from, format, len(adapter.Layers), adapter.NumParams())
	}
	if err := lora.Attach(m, adapter, 1, true); err != nil {
		return nil, nil, err
	}
	return adapter, targets, nil
}

// exporter writes the model's trained adapter in every output format of
// the job into a folder, with the run's metadata; with EMA also the
// averaged adapter, as NAME.ema.safetensors (NAME.ema.FORMAT.safetensors).
func exporter(cfg *job.Config, m *flux2.Model, tr *train.Trainer, meta lora.Meta) func(dir string, step int) ([]string, error) {
	save := func(dir, name string, step int) ([]string, error) {
		a, err := lora.Extract(m)
		if err != nil {
			return nil, err
		}
		meta.Steps = step
		var files []string
		for _, f := range cfg.Output.Formats {
			format, err := lora.ParseFormat(f)
			if err != nil {
				return nil, err
			}
			if format == lora.FormatDiffusers && a.IsLoKr() {
				continue // no diffusers-named LoKr (warned at the start)
			}
			p := ExportPath(dir, name, format)
			if err := lora.Save(p, a, format, meta); err != nil {
				return nil, err
			}
			files = append(files, p)
		}
		return files, nil
	}
	return withEMAExport(cfg, tr, save)
}

// EMAName is the export name of a run's EMA adapter.
func EMAName(name string) string { return name + ".ema" }

// exportCopies is how many adapters a run exports: the trained one, and
// its EMA when kept.
func exportCopies(tr *train.Trainer) int64 {
	if tr.HasEMA() {
		return 2
	}
	return 1
}

// warnIncompatibleExports warns before training when a client that loads
// LoRA files is served by none of the job's output formats (it refuses them,
// or drops some of the adapter's layers), naming the format that would.
func warnIncompatibleExports(cfg *job.Config, a *lora.Adapter, rep Reporter) error {
	formats := make([]lora.Format, len(cfg.Output.Formats))
	for i, f := range cfg.Output.Formats {
		var err error
		if formats[i], err = lora.ParseFormat(f); err != nil {
			return fmt.Errorf("output.formats: %w", err)
		}
	}
	for _, w := range lora.CompatibilityWarnings(a, formats...) {
		rep.printf("warning: output.formats %v: %s", cfg.Output.Formats, w)
	}
	return nil
}
