package pipeline

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/version"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/sample"
)

// SampleOptions say what Sample generates. Zero values take the defaults
// noted; Validate checks the rest.
type SampleOptions struct {
	// Model is embedded:tiny, an official .safetensors file, or a diffusers
	// model folder; VAE and TextEncoder override where those are found.
	Model, VAE, TextEncoder string
	// Variant names the FLUX.2 variant ("" or "auto": resolved from the
	// checkpoint).
	Variant string
	// Quantize and TextEncoderQuantize hold the transformer and the text
	// encoder as none (""), int8, fp8 or nf4.
	Quantize, TextEncoderQuantize quant.Scheme
	// DType is the compute dtype: auto ("": bf16 on GPUs, f32 otherwise),
	// bf16 or f32.
	DType string
	// Backend is auto (""), go, xla:cpu or xla:cuda.
	Backend string
	// LoRAs are applied unmerged, each at its scale.
	LoRAs []LoRA
	// References are reference image files (FLUX.2 multi-reference
	// editing), in order: decoded (EXIF orientation applied, transparency
	// over white), preprocessed and encoded as sample.Request.References
	// says, and recorded in each PNG's "references" text chunk by SHA-256.
	References []string
	// Prompts are encoded by the model's text encoder, unless Embeddings
	// names a safetensors file with ctx [N, L, D] (one row per prompt;
	// Prompts then only label the rows) and optional negative [1, L, D].
	Prompts    []string
	Embeddings string
	// Negative is the negative prompt (classifier-free guidance).
	Negative string
	// Steps and Guidance default to the variant's (0, and below 0).
	Steps    int
	Guidance float64
	// CFG is auto ("": on for undistilled models without a guidance
	// input), on or off.
	CFG string
	// Seed is the first image's seed; image k of a prompt uses Seed+k.
	Seed uint64
	// Count is the number of images per prompt (0: 1).
	Count int
	// Width and Height are the image size in pixels (0: 1024).
	Width, Height int
	// Out is the output folder, or a .png file for a single image.
	Out string
	// Grid also writes OUT/grid.png (prompts × seeds).
	Grid bool
	// VAESetting and TextEncoderSetting name where the caller gives the VAE
	// and text-encoder paths, for messages (e.g. "--vae").
	VAESetting, TextEncoderSetting string
	// Reporter receives progress: messages, sampling steps, images.
	Reporter
}

// LoRA is an adapter file applied at a scale (1: as trained).
type LoRA struct {
	Path  string
	Scale float64
}

// String is FILE, or FILE:SCALE when the scale is not 1.
func (l LoRA) String() string {
	if l.Scale == 1 {
		return l.Path
	}
	return fmt.Sprintf("%s:%g", l.Path, l.Scale)
}

// withDefaults fills the zero values.
func (o SampleOptions) withDefaults() SampleOptions {
	if o.Count == 0 {
		o.Count = 1
	}
	if o.Width == 0 {
		o.Width = 1024
	}
	if o.Height == 0 {
		o.Height = 1024
	}
	if o.CFG == "" {
		o.CFG = "auto"
	}
	if o.DType == "" {
		o.DType = "auto"
	}
	if o.Out == "" {
		o.Out = "samples"
	}
	return o
}

// single reports whether Out names one PNG file rather than a folder.
func (o SampleOptions) single() bool { return strings.HasSuffix(strings.ToLower(o.Out), ".png") }

// Validate checks the options before anything loads; errors name the
// option and the fix.
func (o SampleOptions) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Model == "":
		return fmt.Errorf("model: required (a built-in model such as embedded:nano, a .safetensors file or a diffusers folder)")
	case len(o.Prompts) == 0 && o.Embeddings == "":
		return fmt.Errorf("prompts: give a prompt or precomputed embeddings")
	case !slices.Contains([]string{"auto", "on", "off"}, o.CFG):
		return fmt.Errorf("cfg must be auto, on or off, got %q", o.CFG)
	case o.Steps < 0 || o.Steps > job.MaxSampleSteps:
		return fmt.Errorf("steps must be 1 to %d, got %d", job.MaxSampleSteps, o.Steps)
	case o.Count < 1:
		return fmt.Errorf("count must be at least 1, got %d", o.Count)
	}
	if _, err := (backend.Info{}).ComputeDType(o.DType); err != nil {
		return err
	}
	if err := bundle.CheckVariant(o.Model, o.Variant); err != nil {
		return fmt.Errorf("variant: %w", err)
	}
	if err := job.CheckImageSide(o.Width); err != nil {
		return fmt.Errorf("width %w", err)
	}
	if err := job.CheckImageSide(o.Height); err != nil {
		return fmt.Errorf("height %w", err)
	}
	if err := checkReferencePaths(o); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(o.Out))
	if ext != ".png" && data.IsImageName(o.Out) {
		return fmt.Errorf("out %s: sample writes PNG images; for one image name it %s.png, for several give a folder name without an image extension",
			o.Out, strings.TrimSuffix(o.Out, filepath.Ext(o.Out)))
	}
	if !o.single() {
		return nil
	}
	if o.Embeddings == "" && len(o.Prompts)*o.Count > 1 {
		return fmt.Errorf("out %s is one file but %d images are requested; give a folder", o.Out, len(o.Prompts)*o.Count)
	}
	inputs := []string{o.Embeddings, o.Model, o.VAE}
	for _, l := range o.LoRAs {
		inputs = append(inputs, l.Path)
	}
	inputs = append(inputs, o.References...)
	if err := fsutil.CheckOutput(o.Out, inputs...); err != nil {
		return fmt.Errorf("out %w", err)
	}
	return nil
}

// SampleResult lists what Sample wrote.
type SampleResult struct {
	// Files are the images written (and grid.png), in order.
	Files []string
}

// Sample generates images: every prompt at Count seeds, with the adapters
// applied. The text encoder runs first and is released before the
// transformer loads, so the two never share memory (FLUX.2 dev's Mistral is
// 24B parameters). Cancelling ctx stops between images.
func Sample(ctx context.Context, opts SampleOptions) (*SampleResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	refs, err := loadReferences(o.References)
	if err != nil {
		return nil, err
	}
	l, err := loadForSampling(o)
	if err != nil {
		return nil, err
	}
	l.refs = refs
	return l.generate(ctx, o)
}

// samplingModel is what Sample generates with: the sampler (transformer
// with the adapters attached, VAE decoder), the conditioning of each image
// row and its label, and the settings resolved against the variant.
type samplingModel struct {
	smp      *sample.Sampler
	variant  string
	labels   []string
	prompts  []fixedText
	useCFG   bool
	steps    int
	guidance float64
	refs     *referenceImages
}

// loadForSampling loads the model for o: the text encoder first (prompts
// encoded, encoder released), then the transformer with the adapters; with
// precomputed embeddings, no text encoder at all.
func loadForSampling(o SampleOptions) (*samplingModel, error) {
	rep := o.Reporter
	be, info, err := selectBackend(nil, o.Backend, rep)
	if err != nil {
		return nil, err
	}
	dtype, err := info.ComputeDType(o.DType)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	comps, err := bundle.Load(be, bundle.Options{Path: o.Model, VAE: o.VAE, TextEncoder: o.TextEncoder, Variant: o.Variant,
		TextQuant: o.TextEncoderQuantize, DType: dtype, SkipText: o.Embeddings != "", SkipTransformer: true,
		VAESetting: o.VAESetting, TextEncoderSetting: o.TextEncoderSetting})
	if err != nil {
		return nil, err
	}
	l := &samplingModel{variant: comps.Variant.Name, labels: o.Prompts, useCFG: o.CFG == "on" || o.CFG == "auto" && comps.Variant.UsesCFG()}
	if o.Embeddings == "" {
		if l.prompts, err = encodePrompts(comps, o.Prompts, o.Negative, l.useCFG, rep); err != nil {
			return nil, err
		}
	}
	if comps.Transformer == nil {
		tc, err := bundle.Load(be, bundle.Options{Path: o.Model, Variant: o.Variant, DType: dtype, SkipVAE: true, SkipText: true,
			Quant: quant.Options{Scheme: o.Quantize, DoubleQuant: o.Quantize == quant.NF4}})
		if err != nil {
			return nil, err
		}
		comps.Transformer = tc.Transformer
	}
	m := comps.Transformer
	rep.printf("loaded FLUX.2 %s (%d parameters) in %s", comps.Variant.Name, m.Config.NumParams(), time.Since(start).Round(time.Millisecond))
	if err := AttachLoRAs(m, o.LoRAs, rep); err != nil {
		return nil, err
	}
	if o.Embeddings != "" {
		if l.labels, l.prompts, err = loadEmbeddings(o.Embeddings, o.Prompts, o.Negative, m.Config.ContextDim, l.useCFG); err != nil {
			return nil, err
		}
		if o.single() && len(l.labels)*o.Count > 1 {
			return nil, fmt.Errorf("out %s is one file but %d images are requested; give a folder", o.Out, len(l.labels)*o.Count)
		}
	}
	l.steps, l.guidance = o.Steps, o.Guidance
	if l.steps == 0 {
		l.steps = max(comps.Variant.DefaultSteps, 1)
	}
	if l.guidance < 0 {
		l.guidance = comps.Variant.DefaultGuidance
	}
	per, _ := comps.VAE.Config.PixelsPerLatent()
	l.smp = &sample.Sampler{Model: m, Decoder: vaeDecoder{comps.VAE}, Encoder: comps.VAE, DType: dtype, PixelsPerLatent: per, OnStep: rep.progress("step")}
	return l, nil
}

// generate writes every label's Count images (and the grid when asked).
// Cancelling ctx stops between images; what was written is returned.
func (l *samplingModel) generate(ctx context.Context, o SampleOptions) (*SampleResult, error) {
	rep := o.Reporter
	res := &SampleResult{}
	var rows [][]image.Image
	for pi, label := range l.labels {
		var row []image.Image
		for k := 0; k < o.Count; k++ {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			req := sample.Request{Prompt: label, Negative: o.Negative, Seed: o.Seed + uint64(k), Steps: l.steps, Guidance: l.guidance,
				CFG: l.useCFG, Width: o.Width, Height: o.Height, References: l.refs.images()}
			l.smp.Text = l.prompts[pi]
			rep.printf("image %d/%d: %q seed %d, %dx%d, %d steps", pi*o.Count+k+1, len(l.labels)*o.Count, fsutil.Shorten(label, 60), req.Seed, req.Width, req.Height, l.steps)
			img, err := l.smp.Generate(req)
			if err != nil {
				return res, err
			}
			path := o.Out
			if !o.single() {
				path = filepath.Join(o.Out, fmt.Sprintf("%02d-seed%d.png", pi, req.Seed))
			}
			if err := writeSamplePNG(path, img, l.variant, o, l.refs); err != nil {
				return res, err
			}
			res.Files = append(res.Files, path)
			rep.emit(Event{Kind: EventImage, Path: path})
			row = append(row, img.Image)
		}
		rows = append(rows, row)
	}
	if o.Grid && !o.single() {
		path := filepath.Join(o.Out, "grid.png")
		g := sample.Grid(rows, 4, color.White)
		if err := fsutil.WriteAtomic(path, func(w io.Writer) error { return sample.EncodePNG(w, g, nil) }); err != nil {
			return res, err
		}
		res.Files = append(res.Files, path)
		rep.emit(Event{Kind: EventImage, Path: path})
	}
	return res, nil
}

// encodePrompts encodes each prompt (and the negative prompt, for
// classifier-free guidance), then releases the text encoder.
func encodePrompts(comps *bundle.Components, prompts []string, negative string, useCFG bool, rep Reporter) ([]fixedText, error) {
	var neg *tensors.Tensor
	var err error
	if useCFG {
		if neg, err = comps.Text.Encode([]string{negative}); err != nil {
			return nil, fmt.Errorf("encoding the negative prompt: %w", err)
		}
	}
	var out []fixedText
	for _, p := range prompts {
		ctx, err := comps.Text.Encode([]string{p})
		if err != nil {
			return nil, fmt.Errorf("encoding prompt %q: %w", fsutil.Shorten(p, 60), err)
		}
		out = append(out, fixedText{ctx: ctx, negative: neg})
	}
	freed := comps.Text.Release()
	rep.printf("encoded %d prompt(s) with %s; text encoder released (%s)", len(prompts), comps.Text.Encoder.Spec().Name, fsutil.HumanBytes(int64(freed)))
	return out, nil
}

// loadEmbeddings reads a table of precomputed embeddings (see
// textenc.Table). Given prompts are looked up by text when the table names
// its rows, else they label the rows in order; without prompts every row
// is sampled, labelled by its prompt or FILE#i.
func loadEmbeddings(path string, prompts []string, negative string, contextDim int, useCFG bool) ([]string, []fixedText, error) {
	t, err := textenc.OpenTable(path, contextDim)
	if err != nil {
		return nil, nil, err
	}
	var neg *tensors.Tensor
	if useCFG {
		if t.Negative == nil && t.Prompts == nil {
			return nil, nil, fmt.Errorf("classifier-free guidance needs the negative embedding: add tensor %q to %s, or use --cfg off", textenc.TableNegative, path)
		}
		if neg, err = textenc.EncodeNegative(t, negative); err != nil {
			return nil, nil, fmt.Errorf("negative prompt: %w", err)
		}
	}
	if len(prompts) > 0 && t.Prompts != nil {
		rows := make([]fixedText, len(prompts))
		for i, p := range prompts {
			ctx, err := t.Encode([]string{p})
			if err != nil {
				return nil, nil, err
			}
			rows[i] = fixedText{ctx: ctx, negative: neg}
		}
		return prompts, rows, nil
	}
	labels := make([]string, t.Len())
	rows := make([]fixedText, t.Len())
	for i := range rows {
		switch {
		case i < len(prompts):
			labels[i] = prompts[i]
		case t.Prompts != nil:
			labels[i] = t.Prompts[i]
		default:
			labels[i] = fmt.Sprintf("%s#%d", filepath.Base(path), i)
		}
		rows[i] = fixedText{ctx: t.Row(i), negative: neg}
	}
	return labels, rows, nil
}

// writeSamplePNG writes an image with text chunks recording how it was made
// (with references: a "references" chunk, see referenceImages.record).
func writeSamplePNG(path string, res *sample.Result, variant string, o SampleOptions, refs *referenceImages) error {
	r := res.Request
	loras := make([]string, len(o.LoRAs))
	for i, l := range o.LoRAs {
		loras[i] = l.String()
	}
	text := []sample.TextChunk{
		{Key: "prompt", Value: r.Prompt},
		{Key: "negative_prompt", Value: r.Negative},
		{Key: "seed", Value: fmt.Sprint(r.Seed)},
		{Key: "steps", Value: fmt.Sprint(r.Steps)},
		{Key: "guidance", Value: fmt.Sprint(r.Guidance)},
		{Key: "cfg", Value: fmt.Sprint(r.CFG)},
		{Key: "size", Value: fmt.Sprintf("%dx%d", r.Width, r.Height)},
		{Key: "model", Value: fmt.Sprintf("FLUX.2 %s (%s)", variant, o.Model)},
		{Key: "loras", Value: strings.Join(loras, ", ")},
		{Key: "sampler", Value: "flora euler (official FLUX.2 schedule)"},
		{Key: "software", Value: version.Software()},
	}
	if refs != nil {
		text = append(text, sample.TextChunk{Key: "references", Value: refs.record()})
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return sample.EncodePNG(w, res.Image, text) })
}
