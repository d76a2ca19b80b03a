package main

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/data/feed"
	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/pipeline"
	"github.com/flora-ml/flora/sample"
	"github.com/flora-ml/flora/train"
)

func isEmbeddedPath(p string) bool { return bundle.IsEmbedded(p) }

// plannedJob is a job's variant and memory estimate.
type plannedJob struct {
	variant flux2.Variant
	input   train.MemoryPlanInput
	// modes are the job's host-memory settings as written (input holds
	// them resolved).
	modes train.MemoryModes
	plan  train.MemoryPlan
	// textEncoder is the estimated device memory of caching the captions
	// (before training, in its own phase); textEncoderName names it.
	textEncoder     int64
	textEncoderName string
}

// jobVariant finds the variant a job trains, reading only checkpoint
// headers: the same resolution loading makes (bundle.InspectVariant).
func jobVariant(cfg *job.Config) (flux2.Variant, error) {
	return bundle.InspectVariant(cfg.Model.Path, cfg.Model.Variant)
}

// memoryPlan plans the job's device memory, resolving its automatic
// host-memory settings (activation offload, block swap) against the device
// budget in bytes (0: unknown).
func memoryPlan(cfg *job.Config, budget int64) (*plannedJob, error) {
	v, err := jobVariant(cfg)
	if err != nil {
		return nil, err
	}
	targets, err := pipeline.AdapterSpec(cfg).Plan(v.Config)
	if err != nil {
		return nil, fmt.Errorf("adapter: %w", err)
	}
	q, err := pipeline.QuantOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := pipeline.TrainOptions(cfg, v)
	if err != nil {
		return nil, err
	}
	res := 0
	for _, r := range cfg.Dataset.Resolutions {
		res = max(res, r)
	}
	cb := 2
	if cfg.Model.DType == "f32" {
		cb = 4
	}
	in := train.MemoryPlanInput{Config: v.Config, Quant: q, ComputeBytes: cb, Targets: targets, EightBitAdam: opts.Optimizer.EightBit,
		Resolution: res, TextTokens: 512, Batch: cfg.Train.BatchSize, Checkpointing: opts.Checkpointing}
	modes := pipeline.MemoryModes(cfg)
	if in, err = modes.Fit(in, budget); err != nil {
		return nil, err
	}
	pj := &plannedJob{variant: v, input: in, modes: modes, plan: train.EstimateMemory(in)}
	if spec, err := textenc.SpecForVariant(v.Name); err == nil && !bundle.IsEmbedded(cfg.Model.Path) {
		tq := quant.Scheme(cfg.Model.TextEncoderQuantize)
		pj.textEncoder = spec.EncodeBytes(tq, cb, 8, spec.MaxLength)
		pj.textEncoderName = fmt.Sprintf("%s, %s", spec.Name, orNoneScheme(tq))
	}
	return pj, nil
}

// hostMemoryNote describes what the step keeps in host memory, if anything.
func hostMemoryNote(m flux2.MemoryOptions) string {
	var parts []string
	if m.OffloadActivations {
		parts = append(parts, "saved activations offloaded to host memory")
	}
	if m.BlocksOnHost > 0 {
		parts = append(parts, fmt.Sprintf("%d blocks streamed from host memory (block swap)", m.BlocksOnHost))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func orNoneScheme(s quant.Scheme) string {
	if s == "" {
		return "none"
	}
	return string(s)
}

// textEncoderVerdict says whether caption caching fits the budget.
func textEncoderVerdict(p *plannedJob, budget int64) string {
	if p.textEncoder <= budget {
		return "fits"
	}
	return "does not fit; set model.text_encoder_quantize: nf4 (or int8), or fill the caches on a larger GPU with `flora data cache`"
}

func fitVerdict(p *plannedJob, budget int64) string {
	if p.plan.Total <= budget {
		return "fits"
	}
	s := train.Suggest(p.input, budget)
	if len(s) == 0 {
		return "does not fit, and no single change makes it fit: use a larger GPU"
	}
	return "does not fit; to fit: " + strings.Join(s, "; or ")
}

// preparedRun is a run ready to start.
type preparedRun struct {
	runner *train.Runner
	outDir string
}

// computeDTypeOf maps the job's dtype.
func computeDTypeOf(cfg *job.Config) dtypes.DType {
	if cfg.Model.DType == "f32" {
		return dtypes.Float32
	}
	return dtypes.BFloat16
}

// setupRun loads everything a run needs: dataset, model components, caches,
// adapter, trainer (resumed when asked), previews and exports.
func setupRun(cfg *job.Config, be backends.Backend, start runStart) (*preparedRun, error) {
	out := cliErr
	dcfg := pipeline.DatasetConfig(cfg.Dataset)
	ds, problems, err := data.Scan(dcfg)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		fmt.Fprintf(out, "%s\n", p)
	}
	if err := problems.Err(); err != nil {
		return nil, fmt.Errorf("dataset: %w (fix or remove the files; `flora data check` lists them)", err)
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("dataset: no usable images in %d folder(s)", len(cfg.Dataset.Folders))
	}
	if err := ds.WriteBucketTable(out); err != nil {
		return nil, err
	}
	q, err := pipeline.QuantOptions(cfg)
	if err != nil {
		return nil, err
	}
	dtype := computeDTypeOf(cfg)
	// The autoencoder and text encoder first: the caches are filled and the
	// text encoder released before the transformer is loaded, so they never
	// share memory (Mistral Small 3.1 alone is 48 GB in bf16).
	comps, err := bundle.Load(be, bundle.Options{Path: cfg.Model.Path, VAE: cfg.Model.VAE, TextEncoder: cfg.Model.TextEncoder,
		Variant: cfg.Model.Variant, DType: dtype, Quant: q, TextQuant: quant.Scheme(cfg.Model.TextEncoderQuantize),
		SkipTransformer: true})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "text encoder: %s (%s)\n", comps.Text.Encoder.Spec().Name, humanBytes(int64(comps.Text.Encoder.MemoryBytes())))

	// Caches: latents and caption embeddings are computed once.
	cacheDir := cfg.Dataset.CacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(cfg.Output.Dir, "cache")
	}
	store, err := cache.Open(cacheDir, cache.Options{})
	if err != nil {
		return nil, err
	}
	lat := &vaeLatents{v: comps.VAE, id: comps.VAEID}
	text := &promptEmbeddings{p: comps.Text}
	progress := func(what string) func(done, total int) {
		return func(done, total int) {
			if done == total || done%16 == 0 {
				fmt.Fprintf(out, "\r  %s %d/%d", what, done, total)
				if done == total {
					fmt.Fprintln(out)
				}
			}
		}
	}
	if st, err := cache.BuildLatents(store, ds, lat, cache.BuildOptions{BatchSize: 4, Progress: progress("latents")}); err != nil {
		return nil, err
	} else {
		fmt.Fprintf(out, "latent cache: %s\n", st)
	}
	if st, err := cache.BuildText(store, ds, text, cache.BuildOptions{BatchSize: 8, Progress: progress("captions")}); err != nil {
		return nil, err
	} else {
		fmt.Fprintf(out, "text cache: %s\n", st)
	}
	variant := comps.Variant
	useCFG := variant.UsesCFG()
	var previewCtx []*tensors.Tensor
	var previewNeg *tensors.Tensor
	if cfg.Sample.Every > 0 {
		for _, p := range cfg.Sample.Prompts {
			e, err := comps.Text.Encode([]string{p})
			if err != nil {
				return nil, fmt.Errorf("encoding preview prompt %q: %w", p, err)
			}
			previewCtx = append(previewCtx, e)
		}
		if useCFG {
			if previewNeg, err = comps.Text.Encode([]string{cfg.Sample.Negative}); err != nil {
				return nil, err
			}
		}
	}
	textID := text.Identity()
	freed := comps.Text.Release()
	fmt.Fprintf(out, "text encoder released (%.1f MiB freed)\n", float64(freed)/(1<<20))

	if comps.Transformer == nil {
		tc, err := bundle.Load(be, bundle.Options{Path: cfg.Model.Path, Variant: cfg.Model.Variant, DType: dtype, Quant: q,
			SkipVAE: true, SkipText: true})
		if err != nil {
			return nil, err
		}
		comps.Transformer = tc.Transformer
	}
	m := comps.Transformer
	fmt.Fprintf(out, "model: FLUX.2 %s, %d parameters (%s storage)\n", comps.Variant.Name, m.Config.NumParams(), q.Scheme)

	seed := uint64(cfg.Train.Seed)
	plan, err := data.NewPlan(ds, data.PlanOptions{Seed: seed, BatchSize: cfg.Train.BatchSize})
	if err != nil {
		return nil, err
	}
	src, err := feed.New(ds, plan, store, feed.Options{LatentIdentity: lat.Identity(), TextIdentity: textID})
	if err != nil {
		return nil, err
	}
	// Adapter.
	spec := pipeline.AdapterSpec(cfg)
	targets, err := spec.Plan(m.Config)
	if err != nil {
		return nil, fmt.Errorf("adapter: %w", err)
	}
	adapter := lora.NewAdapter(targets, seed)
	if cfg.Adapter.InitFrom != "" {
		var format lora.Format
		var warnings []string
		if adapter, format, warnings, err = lora.Load(cfg.Adapter.InitFrom, &m.Config); err != nil {
			return nil, fmt.Errorf("adapter.init_from: %w", err)
		}
		for _, w := range warnings {
			fmt.Fprintf(out, "warning: adapter.init_from %s: %s\n", cfg.Adapter.InitFrom, w)
		}
		fmt.Fprintf(out, "adapter.init_from %s (%s): %d layers, %d parameters\n", cfg.Adapter.InitFrom, format, len(adapter.Layers), adapter.NumParams())
	}
	if err := lora.Attach(m, adapter, 1, true); err != nil {
		return nil, err
	}
	opts, err := pipeline.TrainOptions(cfg, variant)
	if err != nil {
		return nil, err
	}
	opts.Backend = start.backend
	opts.Memory = start.memory
	tr, err := train.NewTrainer(m, src, opts)
	if err != nil {
		return nil, err
	}
	if err := resumeTrainer(tr, cfg, start); err != nil {
		return nil, err
	}
	yaml, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "adapter: %d layers, %d parameters (rank %d, alpha %g, targets %s); %d steps, checkpointing %v, %s compute%s\n",
		len(targets), adapter.NumParams(), cfg.Adapter.Rank, targets[0].Alpha, cfg.Adapter.Targets, opts.Steps, opts.Checkpointing, opts.DType, hostMemoryNote(opts.Memory))
	if err := eval.WriteRunInfo(cfg.Output.Dir, eval.RunInfo{Name: cfg.Name, Variant: variant.Name, Rank: cfg.Adapter.Rank,
		Alpha: targets[0].Alpha, Targets: len(targets), AdapterParams: adapter.NumParams(), Steps: cfg.Train.Steps, LR: cfg.Train.LR,
		Quantize: cfg.Model.Quantize, Dataset: cfg.Dataset.Folders[0].Path}); err != nil {
		return nil, err
	}
	meta := lora.Meta{Variant: variant, BaseHash: comps.TransformerID, Trigger: cfg.Dataset.Trigger, Targets: cfg.Adapter.Targets,
		Config: yaml, Title: cfg.Name}
	previewDir := filepath.Join(cfg.Output.Dir, "previews")
	runner := &train.Runner{
		Trainer: tr, OutDir: cfg.Output.Dir, SaveEvery: cfg.Train.SaveEvery, PreviewEvery: cfg.Sample.Every,
		KeepLast: cfg.Train.KeepLast, Config: yaml, Out: out,
		ExportBytes: int64(len(cfg.Output.Formats)) * (4*adapter.NumParams() + 64<<10), // float32 factors + header
		Export: func(dir string, step int) ([]string, error) {
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
				p := exportPath(dir, cfg.Name, format)
				if err := lora.Save(p, a, format, meta); err != nil {
					return nil, err
				}
				files = append(files, p)
			}
			return files, nil
		},
	}
	if cfg.Sample.Every > 0 {
		runner.Preview = func(step int) (string, error) {
			per, _ := comps.VAE.Config.PixelsPerLatent()
			smp := &sample.Sampler{Model: m, Decoder: vaeImages{comps.VAE}, DType: opts.DType, PixelsPerLatent: per}
			var rows [][]image.Image
			for i, ctx := range previewCtx {
				var row []image.Image
				for _, s := range cfg.Sample.Seeds {
					smp.Text = fixedText{ctx: ctx, negative: previewNeg}
					res, err := smp.Generate(sample.Request{Prompt: cfg.Sample.Prompts[i], Negative: cfg.Sample.Negative, Seed: uint64(s),
						Steps: cfg.Sample.Steps, Guidance: cfg.Sample.Guidance, CFG: useCFG, Width: cfg.Sample.Width, Height: cfg.Sample.Height})
					if err != nil {
						return "", err
					}
					row = append(row, res.Image)
				}
				rows = append(rows, row)
			}
			grid := sample.Grid(rows, 4, color.White)
			p := filepath.Join(previewDir, fmt.Sprintf("step-%06d.png", step))
			chunks := []sample.TextChunk{{Key: "step", Value: fmt.Sprint(step)}, {Key: "prompts", Value: strings.Join(cfg.Sample.Prompts, " | ")},
				{Key: "seeds", Value: fmt.Sprint(cfg.Sample.Seeds)}, {Key: "software", Value: "flora " + version}}
			return p, fsutil.WriteAtomic(p, func(w io.Writer) error { return sample.EncodePNG(w, grid, chunks) })
		}
	}
	return &preparedRun{runner: runner, outDir: cfg.Output.Dir}, nil
}

// vaeLatents adapts the VAE to the latent cache.
type vaeLatents struct {
	v  *vae.VAE
	id string
}

func (l *vaeLatents) Identity() string { return l.id }

func (l *vaeLatents) Encode(images []cache.Tensor) ([]cache.Tensor, error) {
	if len(images) == 0 {
		return nil, nil
	}
	s := images[0].Shape
	flat := make([]float32, 0, len(images)*len(images[0].Data))
	for _, im := range images {
		flat = append(flat, im.Data...)
	}
	lat, err := l.v.Encode(tensors.FromFlatDataAndDimensions(flat, len(images), s[0], s[1], s[2]))
	if err != nil {
		return nil, err
	}
	d := lat.Shape().Dimensions
	vals, err := tensors.CopyFlatData[float32](lat)
	if err != nil {
		return nil, err
	}
	per := d[1] * d[2] * d[3]
	out := make([]cache.Tensor, len(images))
	for i := range out {
		out[i] = cache.Tensor{Shape: []int{d[1], d[2], d[3]}, Data: vals[i*per : (i+1)*per]}
	}
	return out, nil
}

// promptEmbeddings adapts the prompt encoder to the text cache.
type promptEmbeddings struct{ p *textenc.PromptEncoder }

func (t *promptEmbeddings) Identity() string {
	return cache.TextIdentity(t.p.Identity(), t.p.Layers(), t.p.MaxLen)
}

func (t *promptEmbeddings) Encode(captions []string) ([]cache.Tensor, error) {
	e, err := t.p.Encode(captions)
	if err != nil {
		return nil, err
	}
	d := e.Shape().Dimensions
	vals, err := tensors.CopyFlatData[float32](e)
	if err != nil {
		return nil, err
	}
	per := d[1] * d[2]
	out := make([]cache.Tensor, len(captions))
	for i := range out {
		out[i] = cache.Tensor{Shape: []int{d[1], d[2]}, Data: vals[i*per : (i+1)*per]}
	}
	return out, nil
}

// vaeImages adapts the VAE to the sampler.
type vaeImages struct{ v *vae.VAE }

func (d vaeImages) Decode(latents *tensors.Tensor) ([]image.Image, error) {
	return vaeDecoder{d.v}.Decode(latents)
}
