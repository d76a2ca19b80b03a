package main

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/sample"
)

// sampleFlags are the flags of `flora sample`.
type sampleFlags struct {
	model, vae, textEncoder, embeddings string
	textQuant, quantize                 string
	variant                             string
	prompts                             []string
	promptsFile, negative               string
	loras                               []string
	steps                               int
	guidance                            float64
	cfg                                 string
	seed                                uint64
	count                               int
	width, height                       int
	out                                 string
	grid                                bool
	backend, dtype                      string
}

func init() {
	register(&command{
		name:    "sample",
		summary: "generate images with a FLUX.2 model and optional LoRA adapters",
		usage:   "sample --model PATH (--prompt TEXT | --prompts-file FILE | --embeddings FILE) [flags]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			f := &sampleFlags{}
			fs.StringVar(&f.model, "model", "", "embedded:tiny, an official .safetensors file, or a diffusers model folder (required)")
			fs.StringVar(&f.vae, "vae", "", "autoencoder (default: vae/ or ae.safetensors next to the model)")
			fs.StringVar(&f.textEncoder, "text-encoder", "", "text encoder folder (default: text_encoder/ next to the model)")
			fs.StringVar(&f.textQuant, "text-encoder-quantize", "none", "store the text encoder's layers as none, int8, fp8 or nf4 (Mistral Small 3.1 needs int8/nf4 on 24 GB)")
			fs.StringVar(&f.quantize, "quantize", "none", "hold the transformer as none, int8, fp8 or nf4 (a checkpoint saved by flora model quantize loads as it is stored)")
			fs.StringVar(&f.variant, "variant", "auto", "FLUX.2 variant (auto infers it; name klein-base-* to sample the undistilled models with CFG)")
			fs.StringVar(&f.embeddings, "embeddings", "", "precomputed text embeddings: safetensors with ctx [N, L, D] (one row per prompt) and optional negative [1, L, D]")
			fs.StringArrayVar(&f.prompts, "prompt", nil, "prompt (repeatable)")
			fs.StringVar(&f.promptsFile, "prompts-file", "", "file with one prompt per line (# starts a comment line; at most 16 MiB)")
			fs.StringVar(&f.negative, "negative", "", "negative prompt (classifier-free guidance)")
			fs.StringArrayVar(&f.loras, "lora", nil, fmt.Sprintf("LoRA adapter FILE[:SCALE], scale in %s, default 1 (repeatable)", loraScaleRange))
			intFlag(fs, &f.steps, "steps", 0, intIn(1, job.MaxSampleSteps), fmt.Sprintf("sampling steps, 1 to %d (default: the variant's)", job.MaxSampleSteps))
			floatFlag(fs, &f.guidance, "guidance", -1, job.FloatRanges["sample.guidance"],
				fmt.Sprintf("guidance scale in %s (default: the variant's)", job.FloatRanges["sample.guidance"]))
			fs.StringVar(&f.cfg, "cfg", "auto", "classifier-free guidance: auto (on for undistilled models without a guidance input), on, off")
			fs.Uint64Var(&f.seed, "seed", 42, "seed of the first image; image i uses seed+i")
			intFlag(fs, &f.count, "count", 1, intIn(1, maxSampleCount), fmt.Sprintf("images per prompt, 1 to %d", maxSampleCount))
			side := fmt.Sprintf("a multiple of %d in [%d, %d]", job.ImageSideMultiple, job.MinImageSide, job.MaxImageSide)
			intFlag(fs, &f.width, "width", 1024, job.CheckImageSide, "image width in pixels, "+side)
			intFlag(fs, &f.height, "height", 1024, job.CheckImageSide, "image height in pixels, "+side)
			fs.StringVar(&f.out, "out", "samples", "output folder (or a .png file for a single image)")
			fs.BoolVar(&f.grid, "grid", false, "also write grid.png (prompts × seeds)")
			fs.StringVar(&f.backend, "backend", "", "auto, go, xla:cpu, xla:cuda (default $FLORA_BACKEND or auto)")
			fs.StringVar(&f.dtype, "dtype", "auto", "compute dtype: auto (bf16 on GPUs, f32 otherwise), bf16, f32")
			return func(args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected arguments %q (prompts go in --prompt)", args)
				}
				return runSample(f)
			}
		},
	})
}

// promptSet is what the sampler conditions on: prompt labels and their
// embeddings, or the prompts to encode.
type promptSet struct {
	labels   []string
	ctx      *tensors.Tensor // [N, L, D] when precomputed
	negative *tensors.Tensor // [1, L, D] when precomputed
}

// maxSampleCount bounds --count (images per prompt).
const maxSampleCount = 1000

func runSample(f *sampleFlags) error {
	if f.model == "" {
		return usageErrorf("--model is required")
	}
	if err := checkSampleOut(f); err != nil {
		return err
	}
	prompts, err := readPrompts(f)
	if err != nil {
		return err
	}
	loras, err := parseLoRASpecs("--lora", f.loras)
	if err != nil {
		return err
	}
	if err := bundle.CheckVariant(f.model, f.variant); err != nil {
		return usageErrorf("--variant: %v", err)
	}
	if f.cfg != "auto" && f.cfg != "on" && f.cfg != "off" {
		return usageErrorf("--cfg must be auto, on or off, got %q", f.cfg)
	}
	be, info, err := backend.Select(f.backend)
	if err != nil {
		return err
	}
	fmt.Fprintln(cliErr, info)
	dtype, err := computeDType(f.dtype, info)
	if err != nil {
		return usageErrorf("%v", err)
	}
	start := time.Now()
	tq, err := quant.ParseScheme(f.textQuant)
	if err != nil {
		return usageErrorf("--text-encoder-quantize: %v", err)
	}
	tsch, err := quant.ParseScheme(f.quantize)
	if err != nil {
		return usageErrorf("--quantize: %v", err)
	}
	// The text encoder and autoencoder first: prompts are encoded and the
	// encoder released before the transformer loads, so the two never
	// share memory (FLUX.2 dev's Mistral is 24B parameters).
	comps, err := bundle.Load(be, bundle.Options{Path: f.model, VAE: f.vae, TextEncoder: f.textEncoder, Variant: f.variant, TextQuant: tq,
		DType: dtype, SkipText: f.embeddings != "", SkipTransformer: true, VAESetting: "--vae", TextEncoderSetting: "--text-encoder"})
	if err != nil {
		return err
	}
	variant := comps.Variant
	useCFG := false
	switch f.cfg {
	case "on":
		useCFG = true
	case "off":
	case "auto":
		useCFG = variant.UsesCFG()
	default:
		return usageErrorf("--cfg must be auto, on or off, got %q", f.cfg)
	}
	var encoded []fixedText // per prompt, when prompts are encoded here
	if f.embeddings == "" {
		var negative *tensors.Tensor
		if useCFG {
			if negative, err = comps.Text.Encode([]string{f.negative}); err != nil {
				return fmt.Errorf("encoding the negative prompt: %w", err)
			}
		}
		for _, p := range prompts {
			ctx, err := comps.Text.Encode([]string{p})
			if err != nil {
				return fmt.Errorf("encoding prompt %q: %w", shorten(p, 60), err)
			}
			encoded = append(encoded, fixedText{ctx: ctx, negative: negative})
		}
		freed := comps.Text.Release()
		fmt.Fprintf(cliErr, "encoded %d prompt(s) with %s; text encoder released (%s)\n", len(prompts),
			comps.Text.Encoder.Spec().Name, humanBytes(int64(freed)))
	}
	if comps.Transformer == nil {
		tc, err := bundle.Load(be, bundle.Options{Path: f.model, Variant: f.variant, DType: dtype, SkipVAE: true, SkipText: true,
			Quant: quant.Options{Scheme: tsch, DoubleQuant: tsch == quant.NF4}})
		if err != nil {
			return err
		}
		comps.Transformer = tc.Transformer
	}
	m, v := comps.Transformer, comps.VAE
	fmt.Fprintf(cliErr, "loaded FLUX.2 %s (%d parameters) in %s\n", comps.Variant.Name, m.Config.NumParams(), time.Since(start).Round(time.Millisecond))
	if len(loras) > 0 {
		if err := attachLoRAs(m, loras); err != nil {
			return err
		}
	}
	set, err := loadPromptSet(f, prompts, m)
	if err != nil {
		return err
	}
	if set == nil {
		set = &promptSet{labels: prompts}
	}
	// 0 and -1 are the flags' "not given" markers: given values were
	// checked while parsing (steps >= 1, guidance finite and >= 0).
	steps, guidance := f.steps, f.guidance
	if steps == 0 {
		steps = max(variant.DefaultSteps, 1)
	}
	if guidance < 0 {
		guidance = variant.DefaultGuidance
	}
	if useCFG && set.ctx != nil && set.negative == nil {
		return fmt.Errorf("classifier-free guidance needs the negative embedding: add tensor \"negative\" to %s, or use --cfg off", f.embeddings)
	}
	per, _ := v.Config.PixelsPerLatent()
	smp := &sample.Sampler{Model: m, Decoder: vaeDecoder{v}, DType: dtype, PixelsPerLatent: per,
		OnStep: func(step, total int) {
			fmt.Fprintf(cliErr, "\r  step %d/%d", step, total)
			if step == total {
				fmt.Fprintln(cliErr)
			}
		}}
	var rows [][]image.Image
	var written []string
	single := strings.HasSuffix(strings.ToLower(f.out), ".png")
	if single && len(set.labels)*f.count > 1 {
		return usageErrorf("--out %s is one file but %d images are requested; give a folder", f.out, len(set.labels)*f.count)
	}
	for pi, label := range set.labels {
		var row []image.Image
		for k := 0; k < f.count; k++ {
			req := sample.Request{Prompt: label, Negative: f.negative, Seed: f.seed + uint64(k), Steps: steps, Guidance: guidance,
				CFG: useCFG, Width: f.width, Height: f.height}
			if set.ctx != nil {
				smp.Text = fixedText{ctx: rowOf(set.ctx, pi), negative: set.negative}
			} else {
				smp.Text = encoded[pi]
			}
			fmt.Fprintf(cliErr, "image %d/%d: %q seed %d, %dx%d, %d steps\n", pi*f.count+k+1, len(set.labels)*f.count, shorten(label, 60), req.Seed, req.Width, req.Height, steps)
			res, err := smp.Generate(req)
			if err != nil {
				return err
			}
			path := f.out
			if !single {
				path = filepath.Join(f.out, fmt.Sprintf("%02d-seed%d.png", pi, req.Seed))
			}
			if err := writeSamplePNG(path, res, m.Variant.Name, f); err != nil {
				return err
			}
			written = append(written, path)
			row = append(row, res.Image)
		}
		rows = append(rows, row)
	}
	if f.grid && !single {
		path := filepath.Join(f.out, "grid.png")
		g := sample.Grid(rows, 4, color.White)
		if err := fsutil.WriteAtomic(path, func(w io.Writer) error { return sample.EncodePNG(w, g, nil) }); err != nil {
			return err
		}
		written = append(written, path)
	}
	for _, p := range written {
		fmt.Fprintln(cliOut, p)
	}
	return nil
}

// computeDType resolves --dtype.
func computeDType(s string, info backend.Info) (dtypes.DType, error) {
	switch s {
	case "f32":
		return dtypes.Float32, nil
	case "bf16":
		return dtypes.BFloat16, nil
	case "auto":
		if info.Name == "xla:cuda" {
			return dtypes.BFloat16, nil
		}
		return dtypes.Float32, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("--dtype must be auto, bf16 or f32, got %q", s)
}

func readPrompts(f *sampleFlags) ([]string, error) {
	prompts := append([]string(nil), f.prompts...)
	if f.promptsFile != "" {
		data, err := fsutil.ReadFileLimited(f.promptsFile, maxPromptsFileBytes, "a prompts file")
		if err != nil {
			return nil, fmt.Errorf("reading prompts: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line := strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				prompts = append(prompts, line)
			}
		}
	}
	if len(prompts) == 0 && f.embeddings == "" {
		return nil, usageErrorf("give a prompt (--prompt or --prompts-file) or precomputed --embeddings")
	}
	return prompts, nil
}

// maxPromptsFileBytes bounds a --prompts-file; its lines may be as long as
// that.
const maxPromptsFileBytes = 16 << 20

// checkSampleOut checks --out before any work: sample writes PNG images, so
// a name with another image extension (out.jpg) is refused rather than
// made a folder, and a single .png output must not be one of the inputs.
func checkSampleOut(f *sampleFlags) error {
	ext := strings.ToLower(filepath.Ext(f.out))
	if ext != ".png" && data.IsImageName(f.out) {
		return usageErrorf("--out %s: sample writes PNG images; for one image name it %s.png, for several give a folder name without an image extension",
			f.out, strings.TrimSuffix(f.out, filepath.Ext(f.out)))
	}
	if ext != ".png" {
		return nil
	}
	inputs := []string{f.promptsFile, f.embeddings, f.model, f.vae}
	for _, spec := range f.loras {
		if ls, err := parseLoRASpec("--lora", spec); err == nil {
			inputs = append(inputs, ls.path)
		}
	}
	if err := fsutil.CheckOutput(f.out, inputs...); err != nil {
		return usageErrorf("--out %v", err)
	}
	return nil
}

// loadPromptSet reads precomputed embeddings, or prepares prompt encoding.
func loadPromptSet(f *sampleFlags, prompts []string, m *flux2.Model) (*promptSet, error) {
	if f.embeddings == "" {
		return nil, nil
	}
	file, err := weights.Open(f.embeddings)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	ctx, err := file.TensorAs("ctx", dtypes.Float32)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (the file needs a ctx tensor [N, L, D])", f.embeddings, err)
	}
	if ctx.Rank() != 3 || ctx.Shape().Dim(2) != m.Config.ContextDim {
		return nil, fmt.Errorf("%s: ctx has shape %v, want [N, L, %d] for this model", f.embeddings, ctx.Shape().Dimensions, m.Config.ContextDim)
	}
	set := &promptSet{ctx: ctx}
	if _, ok := file.Info("negative"); ok {
		if set.negative, err = file.TensorAs("negative", dtypes.Float32); err != nil {
			return nil, err
		}
		if !equalIntSlices(set.negative.Shape().Dimensions, []int{1, ctx.Shape().Dim(1), ctx.Shape().Dim(2)}) {
			return nil, fmt.Errorf("%s: negative has shape %v, want [1, %d, %d]", f.embeddings, set.negative.Shape().Dimensions, ctx.Shape().Dim(1), ctx.Shape().Dim(2))
		}
	}
	n := ctx.Shape().Dim(0)
	for i := 0; i < n; i++ {
		label := fmt.Sprintf("%s#%d", filepath.Base(f.embeddings), i)
		if i < len(prompts) {
			label = prompts[i]
		}
		set.labels = append(set.labels, label)
	}
	return set, nil
}

func equalIntSlices(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rowOf returns row i of [N, L, D] as [1, L, D].
func rowOf(t *tensors.Tensor, i int) *tensors.Tensor {
	d := t.Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](t)
	per := d[1] * d[2]
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), flat[i*per:(i+1)*per]...), 1, d[1], d[2])
}

// fixedText serves precomputed embeddings as a sample.TextEncoder.
type fixedText struct{ ctx, negative *tensors.Tensor }

func (f fixedText) Encode(prompts []string) (*tensors.Tensor, error) {
	if len(prompts) == 1 {
		return f.ctx, nil
	}
	if f.negative == nil {
		return nil, errors.New("no negative embedding for classifier-free guidance")
	}
	a := tensors.MustCopyFlatData[float32](f.negative)
	b := tensors.MustCopyFlatData[float32](f.ctx)
	d := f.ctx.Shape().Dimensions
	return tensors.FromFlatDataAndDimensions(append(a, b...), 2, d[1], d[2]), nil
}

// vaeDecoder adapts the VAE to sample.LatentDecoder.
type vaeDecoder struct{ v *vae.VAE }

func (d vaeDecoder) Decode(latents *tensors.Tensor) ([]image.Image, error) {
	px, err := d.v.Decode(latents)
	if err != nil {
		return nil, err
	}
	imgs, err := vae.ImagesFromPixels(px, vae.PixelRound)
	if err != nil {
		return nil, err
	}
	out := make([]image.Image, len(imgs))
	for i, im := range imgs {
		out[i] = im
	}
	return out, nil
}

// writeSamplePNG writes an image with text chunks recording how it was made.
func writeSamplePNG(path string, res *sample.Result, model string, f *sampleFlags) error {
	r := res.Request
	text := []sample.TextChunk{
		{Key: "prompt", Value: r.Prompt},
		{Key: "negative_prompt", Value: r.Negative},
		{Key: "seed", Value: fmt.Sprint(r.Seed)},
		{Key: "steps", Value: fmt.Sprint(r.Steps)},
		{Key: "guidance", Value: fmt.Sprint(r.Guidance)},
		{Key: "cfg", Value: fmt.Sprint(r.CFG)},
		{Key: "size", Value: fmt.Sprintf("%dx%d", r.Width, r.Height)},
		{Key: "model", Value: fmt.Sprintf("FLUX.2 %s (%s)", model, f.model)},
		{Key: "loras", Value: strings.Join(f.loras, ", ")},
		{Key: "sampler", Value: "flora euler (official FLUX.2 schedule)"},
		{Key: "software", Value: "flora " + version},
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return sample.EncodePNG(w, res.Image, text) })
}
