package sample

import (
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
)

// fakeText embeds a prompt as deterministic pseudo-random vectors.
type fakeText struct{ l, d int }

func (f fakeText) Encode(prompts []string) (*tensors.Tensor, error) {
	out := make([]float32, 0, len(prompts)*f.l*f.d)
	for _, p := range prompts {
		h := fnv.New64a()
		h.Write([]byte(p))
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		for i := 0; i < f.l*f.d; i++ {
			out = append(out, float32(rng.NormFloat64()))
		}
	}
	return tensors.FromFlatDataAndDimensions(out, len(prompts), f.l, f.d), nil
}

func TestGenerateDeterministicAndCFG(t *testing.T) {
	cfg := flux2.TinyConfig()
	cfg.GuidanceEmbed = false // klein-like: CFG instead of a guidance input
	m, err := flux2.NewRandomModel(testutil.Backend(t), cfg, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	s := &Sampler{Model: m, Text: fakeText{l: 5, d: cfg.ContextDim}}
	req := Request{Prompt: "a red circle", Negative: "", Seed: 3, Steps: 3, Guidance: 1, Width: 50, Height: 32}
	a, err := s.Generate(req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Request.Width != 48 {
		t.Errorf("width not snapped to 16: %d", a.Request.Width)
	}
	b, err := s.Generate(req)
	if err != nil {
		t.Fatal(err)
	}
	av, bv := tensors.MustCopyFlatData[float32](a.Latent), tensors.MustCopyFlatData[float32](b.Latent)
	for i := range av {
		if av[i] != bv[i] {
			t.Fatalf("same seed gave different latents at %d", i)
		}
	}
	// CFG with scale 1 is exactly the conditional prediction.
	cfgReq := req
	cfgReq.CFG = true
	c, err := s.Generate(cfgReq)
	if err != nil {
		t.Fatal(err)
	}
	cv := tensors.MustCopyFlatData[float32](c.Latent)
	for i := range av {
		if d := av[i] - cv[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("CFG scale 1 differs from conditional at %d: %g vs %g", i, cv[i], av[i])
		}
	}
	other := req
	other.Seed = 4
	o, _ := s.Generate(other)
	if ov := tensors.MustCopyFlatData[float32](o.Latent); ov[0] == av[0] && ov[1] == av[1] {
		t.Error("different seeds gave the same latent")
	}
}

// TestGeneratePixelsPerLatent: the latent grid follows the decoder's scale,
// so a decoder with 8 pixels per latent (Flora's embedded model) gets a
// 64×48 image's 8×6 latent, not the 4×3 of FLUX.2's 16.
func TestGeneratePixelsPerLatent(t *testing.T) {
	cfg := flux2.TinyConfig()
	m, err := flux2.NewRandomModel(testutil.Backend(t), cfg, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for per, want := range map[int][]int{0: {cfg.InChannels, 3, 4}, 16: {cfg.InChannels, 3, 4}, 8: {cfg.InChannels, 6, 8}} {
		s := &Sampler{Model: m, Text: fakeText{l: 5, d: cfg.ContextDim}, PixelsPerLatent: per}
		res, err := s.Generate(Request{Prompt: "x", Seed: 1, Steps: 1, Guidance: 1, Width: 64, Height: 48})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Latent.Shape().Dimensions; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("PixelsPerLatent %d: latent %v, want %v", per, got, want)
		}
	}
}
