package sample

import (
	"errors"
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
)

// TextEncoder turns prompts into the transformer's context embeddings
// [B, L, ContextDim] (float32).
type TextEncoder interface {
	Encode(prompts []string) (*tensors.Tensor, error)
}

// LatentDecoder turns normalised latents [B, C, H/p, W/p] into images, p
// being Sampler.PixelsPerLatent.
type LatentDecoder interface {
	Decode(latents *tensors.Tensor) ([]image.Image, error)
}

// Request is one image to generate.
type Request struct {
	Prompt, Negative string
	Seed             uint64
	Steps            int
	// Guidance is the distilled guidance value for models with a guidance
	// embedder (dev), or the classifier-free guidance scale when CFG is on.
	Guidance float64
	// CFG runs real classifier-free guidance (klein base variants): the
	// velocity is v_neg + Guidance·(v_prompt − v_neg).
	CFG           bool
	Width, Height int
	// References are reference images (FLUX.2 editing / multi-reference
	// conditioning), in order: each is preprocessed (PrepareReference),
	// encoded by Sampler.Encoder once per request, and its tokens join every
	// transformer call (both CFG branches) with position ids t = 10 + 10k
	// (flux2.References); the output size stays Width×Height.
	References []image.Image
}

// Normalize snaps the size down to multiples of 16 (FLUX.2 latents are 16×
// smaller than images) and validates the request.
func (r *Request) Normalize() error {
	r.Width, r.Height = r.Width/16*16, r.Height/16*16
	switch {
	case r.Width < 16 || r.Height < 16:
		return fmt.Errorf("image size %dx%d is too small (minimum 16x16)", r.Width, r.Height)
	case r.Steps < 1:
		return fmt.Errorf("steps must be >= 1, got %d", r.Steps)
	case r.Guidance < 0:
		return fmt.Errorf("guidance must be >= 0, got %g", r.Guidance)
	}
	return nil
}

// Sampler generates images with a FLUX.2 model (with whatever adapters are
// attached to it).
type Sampler struct {
	Model   *flux2.Model
	Text    TextEncoder
	Decoder LatentDecoder
	// DType is the compute dtype of the transformer.
	DType dtypes.DType
	// OnStep reports progress (step, total) of the current image.
	OnStep StepFunc
	// PixelsPerLatent is the image pixels per latent token along each side:
	// the decoder's scale (vae.Config.PixelsPerLatent). 0 means 16, FLUX.2's
	// autoencoder with its 2×2 patch; Flora's embedded demo model has 8.
	// Images come out exactly Width×Height when both are multiples of it.
	PixelsPerLatent int
	// Encoder encodes Request.References (the VAE); needed only with
	// references.
	Encoder LatentEncoder
}

// pixelsPerLatent is PixelsPerLatent, 16 when unset.
func (s *Sampler) pixelsPerLatent() int {
	if s.PixelsPerLatent <= 0 {
		return 16
	}
	return s.PixelsPerLatent
}

// Result is one generated image and its final latent.
type Result struct {
	Request Request
	Image   image.Image
	// Latent [C, H/p, W/p] is the clean normalised latent (p:
	// Sampler.PixelsPerLatent).
	Latent *tensors.Tensor
}

// Noise returns the initial latent of a seed: i.i.d. N(0, 1) values in the
// packed, normalised latent space [C, h, w], drawn from a PCG generator so the
// same seed always gives the same image.
func Noise(seed uint64, c, h, w int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]float32, c*h*w)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// Generate renders one request.
func (s *Sampler) Generate(req Request) (*Result, error) {
	if err := req.Normalize(); err != nil {
		return nil, err
	}
	if s.Text == nil {
		return nil, errors.New("sampler has no text encoder")
	}
	cfg := s.Model.Config
	per := s.pixelsPerLatent()
	h, w := req.Height/per, req.Width/per
	n := h * w
	prompts := []string{req.Prompt}
	if req.CFG {
		prompts = []string{req.Negative, req.Prompt}
	}
	ctx, err := s.Text.Encode(prompts)
	if err != nil {
		return nil, fmt.Errorf("encoding prompt: %w", err)
	}
	x := flux2.PackTokens(Noise(req.Seed, cfg.InChannels, h, w), cfg.InChannels, h, w)
	latent, err := s.Denoise(tensors.FromFlatDataAndDimensions(x, 1, n, cfg.InChannels), ctx, h, w, req)
	if err != nil {
		return nil, err
	}
	flat, err := tensors.CopyFlatData[float32](latent)
	if err != nil {
		return nil, err
	}
	chw := tensors.FromFlatDataAndDimensions(flux2.UnpackTokens(flat, cfg.InChannels, h, w), cfg.InChannels, h, w)
	res := &Result{Request: req, Latent: chw}
	if s.Decoder != nil {
		imgs, err := s.Decoder.Decode(tensors.FromFlatDataAndDimensions(flux2.UnpackTokens(flat, cfg.InChannels, h, w), 1, cfg.InChannels, h, w))
		if err != nil {
			return nil, fmt.Errorf("decoding latent: %w", err)
		}
		res.Image = imgs[0]
	}
	return res, nil
}

// Denoise integrates noise tokens x [1, N, C] (N = h·w) over the official
// schedule with the text context ctx ([1, L, D], or [2, L, D] = [negative,
// prompt] for CFG) and the request's references, and returns the clean
// latent tokens [1, N, C]. The schedule's sequence length is N, the target
// tokens only (as in Black Forest Labs' CLI and diffusers' Flux2Pipeline).
func (s *Sampler) Denoise(x, ctx *tensors.Tensor, h, w int, req Request) (*tensors.Tensor, error) {
	cfg := s.Model.Config
	if d := x.Shape().Dimensions; len(d) != 3 || d[0] != 1 || d[1] != h*w || d[2] != cfg.InChannels {
		return nil, fmt.Errorf("noise tokens have shape %v, want [1, %d, %d] (a %dx%d latent grid)", d, h*w, cfg.InChannels, h, w)
	}
	refs, err := s.References(req.References)
	if err != nil {
		return nil, err
	}
	schedule, err := Schedule(req.Steps, h*w)
	if err != nil {
		return nil, err
	}
	b := 1
	if req.CFG {
		b = 2
	}
	if ctx.Shape().Dim(0) != b {
		return nil, fmt.Errorf("text context has batch %d, want %d", ctx.Shape().Dim(0), b)
	}
	l := ctx.Shape().Dim(1)
	var guidance *tensors.Tensor
	if cfg.GuidanceEmbed {
		g := make([]float32, b)
		for i := range g {
			g[i] = float32(req.Guidance)
		}
		guidance = tensors.FromFlatDataAndDimensions(g, b)
	}
	dtype := s.DType
	if dtype == dtypes.InvalidDType {
		dtype = dtypes.Float32
	}
	txtIDs, imgIDs := flux2.TextIDs(b, l), flux2.ImageIDs(b, h, w, 0)
	// Target tokens first, then the references' (the same for both CFG
	// branches, as in diffusers' Flux2KleinPipeline).
	ids, err := flux2.JointIDs(txtIDs, refs.AppendIDs(imgIDs))
	if err != nil {
		return nil, err
	}
	cos, sin, err := cfg.RoPETables(ids)
	if err != nil {
		return nil, err
	}
	velocity := func(xt *tensors.Tensor, t float64) (*tensors.Tensor, error) {
		xs := xt
		if b == 2 {
			flat, err := tensors.CopyFlatData[float32](xt)
			if err != nil {
				return nil, err
			}
			xs = tensors.FromFlatDataAndDimensions(append(flat, flat...), 2, h*w, cfg.InChannels)
		}
		xs, err := refs.AppendTokens(xs)
		if err != nil {
			return nil, err
		}
		ts := make([]float32, b)
		for i := range ts {
			ts[i] = float32(t)
		}
		batch := &flux2.Batch{X: xs, Ctx: ctx, T: tensors.FromFlatDataAndDimensions(ts, b), Guidance: guidance, RoPECos: cos, RoPESin: sin}
		v, err := s.Model.Forward(batch, dtype)
		if err != nil {
			return nil, err
		}
		if v, err = flux2.TargetTokens(v, h*w); err != nil {
			return nil, err
		}
		if b == 1 {
			return v, nil
		}
		both, err := tensors.CopyFlatData[float32](v)
		if err != nil {
			return nil, err
		}
		half := len(both) / 2
		uncond := tensors.FromFlatDataAndDimensions(both[:half], 1, h*w, cfg.InChannels)
		cond := tensors.FromFlatDataAndDimensions(both[half:], 1, h*w, cfg.InChannels)
		return CFG(uncond, cond, req.Guidance)
	}
	return Euler(x, schedule, velocity, s.OnStep)
}
