package pipeline

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/version"
	"github.com/flora-ml/flora/job"
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

// render returns the run's preview callback: a grid of every prompt (rows)
// at every seed (columns), sampled with the adapter as trained so far,
// written to OUTPUT/previews/step-NNNNNN.png.
func (p *previewPrompts) render(cfg *job.Config, m *flux2.Model, v *vae.VAE, dtype dtypes.DType) func(step int) (string, error) {
	dir := filepath.Join(cfg.Output.Dir, "previews")
	s := cfg.Sample
	return func(step int) (string, error) {
		per, _ := v.Config.PixelsPerLatent()
		smp := &sample.Sampler{Model: m, Decoder: vaeDecoder{v}, Encoder: v, DType: dtype, PixelsPerLatent: per}
		var rows [][]image.Image
		for i, ctx := range p.ctx {
			var row []image.Image
			for _, seed := range s.Seeds {
				smp.Text = fixedText{ctx: ctx, negative: p.negative}
				res, err := smp.Generate(sample.Request{Prompt: s.Prompts[i], Negative: s.Negative, Seed: uint64(seed),
					Steps: s.Steps, Guidance: s.Guidance, CFG: p.useCFG, Width: s.Width, Height: s.Height, References: p.refs.images()})
				if err != nil {
					return "", err
				}
				row = append(row, res.Image)
			}
			rows = append(rows, row)
		}
		grid := sample.Grid(rows, 4, color.White)
		path := filepath.Join(dir, fmt.Sprintf("step-%06d.png", step))
		chunks := []sample.TextChunk{{Key: "step", Value: fmt.Sprint(step)}, {Key: "prompts", Value: strings.Join(s.Prompts, " | ")},
			{Key: "seeds", Value: fmt.Sprint(s.Seeds)}, {Key: "software", Value: version.Software()}}
		if p.refs != nil {
			chunks = append(chunks, sample.TextChunk{Key: "references", Value: p.refs.record()})
		}
		return path, fsutil.WriteAtomic(path, func(w io.Writer) error { return sample.EncodePNG(w, grid, chunks) })
	}
}
