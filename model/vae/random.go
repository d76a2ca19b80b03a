package vae

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// NewRandom returns an autoencoder of the architecture with deterministic
// random weights: convolutions N(0, 1/fan_in) with zero biases, GroupNorm
// scales 1 and shifts 0, latent BatchNorm statistics mean 0 / variance 1.
// It exists for the embedded demo and for speed and memory measurements; it
// is not a trained autoencoder.
func NewRandom(backend backends.Backend, cfg Config, seed uint64, opts Options) (*VAE, error) {
	v, err := New(backend, cfg, opts)
	if err != nil {
		return nil, err
	}
	for _, name := range cfg.ParamNames() {
		dims := cfg.ParamShapes()[name]
		n := 1
		for _, d := range dims {
			n *= d
		}
		vals := make([]float32, n)
		switch {
		case name == bnVar:
			for i := range vals {
				vals[i] = 1
			}
		case name == bnMean || strings.HasSuffix(name, ".bias"):
		case len(dims) == 1: // GroupNorm scale
			for i := range vals {
				vals[i] = 1
			}
		default:
			h := uint64(14695981039346656037)
			for i := 0; i < len(name); i++ {
				h = (h ^ uint64(name[i])) * 1099511628211
			}
			rng := rand.New(rand.NewPCG(seed, h))
			fanIn := n / dims[0]
			std := 1 / math.Sqrt(float64(fanIn))
			for i := range vals {
				vals[i] = float32(rng.NormFloat64() * std)
			}
		}
		if err := v.SetWeight(name, tensors.FromFlatDataAndDimensions(vals, dims...)); err != nil {
			return nil, err
		}
	}
	return v, nil
}
