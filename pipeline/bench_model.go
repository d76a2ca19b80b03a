package pipeline

import (
	"math/rand/v2"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/rss"
	"github.com/flora-ml/flora/internal/tensorrand"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/vae"
)

// randomBenchModel builds random weights, quantized when asked.
func randomBenchModel(b backends.Backend, cfg flux2.Config, dtype dtypes.DType, q quant.Scheme) (*flux2.Model, error) {
	if q == quant.None {
		return flux2.NewRandomModel(b, cfg, 1, dtype)
	}
	m, err := flux2.NewModel(b, cfg)
	if err != nil {
		return nil, err
	}
	store := quant.Store(quant.Options{Scheme: q, DoubleQuant: q == quant.NF4})
	for _, name := range cfg.ParamNames() {
		dims := cfg.ParamShapes()[name]
		t := tensors.FromFlatDataAndDimensions(flux2.RandomWeight(name, dims, 1), dims...)
		if dtype != dtypes.Float32 {
			if t, err = flux2.ConvertHost(t, dtype); err != nil {
				return nil, err
			}
		}
		if err := store(m, name, t); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// benchForward returns a forward pass on a random batch: latents [B, N, C]
// of side Res/16, text [B, L, D], t = 0.5.
func benchForward(m *flux2.Model, opts BenchOptions, dtype dtypes.DType) (func() error, error) {
	c, b, h, l := m.Config, opts.Batch, opts.Res/16, opts.TextTokens
	rng := rand.New(rand.NewPCG(2, 2))
	rnd := func(dims ...int) *tensors.Tensor { return tensorrand.Normal(rng, dims...) }
	ts := make([]float32, b)
	for i := range ts {
		ts[i] = 0.5
	}
	var g *tensors.Tensor
	if c.GuidanceEmbed {
		g = tensors.FromFlatDataAndDimensions(append([]float32(nil), ts...), b)
	}
	bt, err := m.NewBatch(rnd(b, h*h, c.InChannels), rnd(b, l, c.ContextDim), tensors.FromFlatDataAndDimensions(ts, b), g,
		flux2.TextIDs(b, l), flux2.ImageIDs(b, h, h, 0))
	if err != nil {
		return nil, err
	}
	return func() error {
		out, err := m.Forward(bt, dtype)
		if err == nil {
			out.FinalizeAll()
		}
		return err
	}, nil
}

// benchVAE times the FLUX.2 autoencoder's decode of a res×res image from
// random weights.
func benchVAE(b backends.Backend, res, steps int) (*BenchResult, error) {
	v, err := vae.NewRandom(b, vae.FLUX2Config(), 1, vae.Options{})
	if err != nil {
		return nil, err
	}
	lat := tensors.FromFlatDataAndDimensions(make([]float32, 128*(res/16)*(res/16)), 1, 128, res/16, res/16)
	t0 := time.Now()
	if _, err := v.Decode(lat); err != nil {
		return nil, err
	}
	warm := time.Since(t0)
	per, fastest, err := timeSteps(func() error {
		out, err := v.Decode(lat)
		if err == nil {
			out.FinalizeAll()
		}
		return err
	}, steps)
	if err != nil {
		return nil, err
	}
	return &BenchResult{Mode: "vae-decode", Batch: 1, Res: res, Steps: steps, FirstStepMS: ms(warm), MSPerStep: ms(per),
		MinStepMS: ms(fastest), PeakRSSBytes: rss.Peak()}, nil
}
