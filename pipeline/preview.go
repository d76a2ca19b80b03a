package pipeline

import (
	"fmt"
	"image"
	"io"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/version"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/sample"
)

// previewPrompts are a job's preview prompts, encoded before the text
// encoder is released: one context [1, L, D] per prompt, and the negative
// prompt's when the variant samples with classifier-free guidance.
type previewPrompts struct {
	ctx      []*tensors.Tensor
	negative *tensors.Tensor
	useCFG   bool
	// refs are sample.references, every preview's reference images.
	refs *referenceImages
}

// encodePreviewPrompts encodes sample.prompts (none when previews are off).
func encodePreviewPrompts(cfg *job.Config, variant flux2.Variant, text textenc.Contexts) (*previewPrompts, error) {
	p := &previewPrompts{useCFG: variant.UsesCFG()}
	if cfg.Sample.Every <= 0 {
		return p, nil
	}
	var err error
	if p.refs, err = loadReferences(cfg.Sample.References); err != nil {
		return nil, fmt.Errorf("sample.references: %w", err)
	}
	for _, prompt := range cfg.Sample.Prompts {
		e, err := text.Encode([]string{prompt})
		if err != nil {
			return nil, fmt.Errorf("encoding preview prompt %q: %w", prompt, err)
		}
		p.ctx = append(p.ctx, e)
	}
	if p.useCFG {
		if p.negative, err = textenc.EncodeNegative(text, cfg.Sample.Negative); err != nil {
			return nil, fmt.Errorf("encoding the preview negative prompt: %w", err)
		}
	}
	return p, nil
}

// previewRenderer renders a run's previews into OUTPUT/previews/step-NNNNNN.png:
// every prompt (rows) at every seed (columns), sampled with the adapter as
// trained so far, and with sample.compare_base the base model's image of
// the same prompt, seed and settings beside each (previewLayout).
type previewRenderer struct {
	p   *previewPrompts
	s   job.SampleConfig
	m   *flux2.Model
	smp *sample.Sampler
	dir string
	// base holds the base model's images [prompt][seed] once sampled. They
	// do not change while the adapter trains, so they are sampled once per
	// run and reused by every preview: a run costs one extra set of
	// samples, not one per preview. (They are small: sample.width×height
	// RGBA per image.)
	base [][]image.Image
}

// renderer returns the run's preview renderer. With sample.compare_base it
// samples the base images at once, before the first optimizer step: the
// adapter is switched off for them (lora.WithAdaptersOff), and where the
// trained weights are the base itself (no adapter slots) the weights as they
// are before training are the base — which only now holds (for a fresh
// run; a resumed one would have to keep its starting weights). Should that
// sampling fail, the error is returned with the renderer, which tries again
// at the first preview (right for adapters, which are switched off then
// too).
func (p *previewPrompts) renderer(cfg *job.Config, m *flux2.Model, v *vae.VAE, dtype dtypes.DType) (*previewRenderer, error) {
	per, _ := v.Config.PixelsPerLatent()
	r := &previewRenderer{p: p, s: cfg.Sample, m: m, dir: filepath.Join(cfg.Output.Dir, "previews"),
		smp: &sample.Sampler{Model: m, Decoder: vaeDecoder{v}, Encoder: v, DType: dtype, PixelsPerLatent: per}}
	if !r.s.CompareBase {
		return r, nil
	}
	_, err := r.baseImages()
	return r, err
}

// baseImages returns the base model's images, sampling them the first time.
func (r *previewRenderer) baseImages() ([][]image.Image, error) {
	if r.base != nil {
		return r.base, nil
	}
	err := lora.WithAdaptersOff(r.m, func() (err error) {
		r.base, err = r.sampleAll()
		return err
	})
	if err != nil {
		r.base = nil
		return nil, fmt.Errorf("sampling the base model's preview images: %w", err)
	}
	return r.base, nil
}

// sampleAll samples every prompt at every seed with the model as it is.
func (r *previewRenderer) sampleAll() ([][]image.Image, error) {
	s := r.s
	var rows [][]image.Image
	for i, ctx := range r.p.ctx {
		var row []image.Image
		for _, seed := range s.Seeds {
			r.smp.Text = fixedText{ctx: ctx, negative: r.p.negative}
			res, err := r.smp.Generate(sample.Request{Prompt: s.Prompts[i], Negative: s.Negative, Seed: uint64(seed),
				Steps: s.Steps, Guidance: s.Guidance, CFG: r.p.useCFG, Width: s.Width, Height: s.Height, References: r.p.refs.images()})
			if err != nil {
				return nil, fmt.Errorf("prompt %d, seed %d: %w", i, seed, err)
			}
			row = append(row, res.Image)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// layout is the preview's layout for images of size tile.
func (r *previewRenderer) layout(tile image.Point) previewLayout {
	return previewLayout{rows: len(r.p.ctx), seeds: len(r.s.Seeds), tile: tile, compare: r.s.CompareBase}
}

// render is the run's preview callback: it samples the adapted images of
// the step (with the trainer's EMA adapter when withEMA wraps it), places
// the base images beside them and writes the PNG, returning its path.
func (r *previewRenderer) render(step int) (string, error) {
	var base [][]image.Image
	if r.s.CompareBase {
		var err error
		if base, err = r.baseImages(); err != nil {
			return "", err
		}
	}
	adapted, err := r.sampleAll()
	if err != nil {
		return "", err
	}
	var tile image.Point
	if len(adapted) > 0 && len(adapted[0]) > 0 {
		tile = adapted[0][0].Bounds().Size()
	}
	l := r.layout(tile)
	s := r.s
	path := filepath.Join(r.dir, fmt.Sprintf("step-%06d.png", step))
	chunks := []sample.TextChunk{{Key: "step", Value: fmt.Sprint(step)}, {Key: "prompts", Value: strings.Join(s.Prompts, " | ")},
		{Key: "seeds", Value: fmt.Sprint(s.Seeds)}, {Key: "layout", Value: l.layoutText()}, {Key: "software", Value: version.Software()}}
	if r.p.refs != nil {
		chunks = append(chunks, sample.TextChunk{Key: "references", Value: r.p.refs.record()})
	}
	img := l.draw(base, adapted)
	return path, fsutil.WriteAtomic(path, func(w io.Writer) error { return sample.EncodePNG(w, img, chunks) })
}
