package vae

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Options tune a VAE.
type Options struct {
	// DType is the dtype of the weights and activations: Float32 (the
	// reference's, default when InvalidDType) or BFloat16. GroupNorm,
	// softmax and the latent BatchNorm always compute in float32, and the
	// BatchNorm statistics are kept in float32.
	DType dtypes.DType
	// Conv selects the convolution algorithm (ConvAuto by default).
	Conv ConvAlgorithm
	// Config overrides shape inference when loading (e.g. from
	// ParseDiffusersConfig).
	Config *Config
	// IgnoreUnexpected skips tensors that are not autoencoder weights
	// instead of reporting them.
	IgnoreUnexpected bool
}

// VAE is a FLUX.2 autoencoder with its weights, ready to encode and decode
// on a backend.
type VAE struct {
	// Config is the architecture.
	Config Config

	backend backends.Backend
	net     Net
	dtype   dtypes.DType
	shapes  map[string][]int

	mu       sync.Mutex
	weights  map[string]*tensors.Tensor // official name → value
	programs map[string]*Exec
}

// New returns an autoencoder of the given architecture with no weights yet
// (set them with SetWeight, or use Load).
func New(backend backends.Backend, cfg Config, opts Options) (*VAE, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("vae config: %w", err)
	}
	dtype := opts.DType
	if dtype == dtypes.InvalidDType {
		dtype = dtypes.Float32
	}
	if dtype != dtypes.Float32 && dtype != dtypes.BFloat16 {
		return nil, fmt.Errorf("vae: dtype %s is not supported (Float32 or BFloat16)", dtype)
	}
	return &VAE{
		Config:   cfg,
		backend:  backend,
		net:      Net{Config: cfg, Conv: opts.Conv.Resolve(backend)},
		dtype:    dtype,
		shapes:   cfg.ParamShapes(),
		weights:  map[string]*tensors.Tensor{},
		programs: map[string]*Exec{},
	}, nil
}

// DType is the compute dtype.
func (v *VAE) DType() dtypes.DType { return v.dtype }

// ConvAlgorithm is the resolved convolution algorithm.
func (v *VAE) ConvAlgorithm() ConvAlgorithm { return v.net.Conv }

// Net returns the graph builder of this VAE (architecture and convolution
// algorithm), for programs of one's own (e.g. encoding inside a training
// graph) that read the weights through a Weights value.
func (v *VAE) Net() Net { return v.net }

// SetWeight sets a tensor by its official name after checking that it
// belongs to the architecture with the right shape. Weights are converted
// to the VAE's dtype, the BatchNorm statistics to float32.
func (v *VAE) SetWeight(official string, value *tensors.Tensor) error {
	want, ok := v.shapes[official]
	if !ok {
		return fmt.Errorf("%q is not a tensor of this FLUX.2 autoencoder", official)
	}
	if !slices.Equal(value.Shape().Dimensions, want) {
		return fmt.Errorf("tensor %s has shape %v, want %v", official, value.Shape().Dimensions, want)
	}
	dtype := v.dtype
	if official == bnMean || official == bnVar {
		dtype = dtypes.Float32
	}
	if value.DType() != dtype {
		converted, err := convertTensor(value, dtype)
		if err != nil {
			return fmt.Errorf("converting %s to %s: %w", official, dtype, err)
		}
		value = converted
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.weights[official] = value
	return nil
}

// Weight returns the tensor of an official name, or nil.
func (v *VAE) Weight(official string) *tensors.Tensor {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.weights[official]
}

// MissingWeights lists the tensors of the architecture without a value.
func (v *VAE) MissingWeights() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var missing []string
	for _, n := range v.Config.ParamNames() {
		if _, ok := v.weights[n]; !ok {
			missing = append(missing, n)
		}
	}
	return missing
}

// Encode maps images pixels [B, InChannels, H, W] (float32 in [-1, 1]; H
// and W multiples of 16 for the published model, see
// Config.PixelsPerLatent) to the transformer's normalised packed latents
// [B, LatentChannels, H/16, W/16] (float32): posterior mean, 2×2
// patchify, BatchNorm normalisation.
func (v *VAE) Encode(pixels *tensors.Tensor) (*tensors.Tensor, error) {
	if err := v.checkPixels(pixels); err != nil {
		return nil, err
	}
	return v.run("encode", "encoder.", pixels)
}

// Decode maps normalised packed latents [B, LatentChannels, h, w] (float32)
// to images [B, OutChannels, 16h, 16w] (float32, ≈[-1, 1], not clamped).
func (v *VAE) Decode(latents *tensors.Tensor) (*tensors.Tensor, error) {
	if err := v.checkLatents(latents); err != nil {
		return nil, err
	}
	return v.run("decode", "decoder.", latents)
}

// maxSide bounds image sides (pixels) accepted by Encode and Decode.
const maxSide = 1 << 15

func (v *VAE) checkPixels(pixels *tensors.Tensor) error {
	d := pixels.Shape().Dimensions
	ph, pw := v.Config.PixelsPerLatent()
	if pixels.DType() != dtypes.Float32 || len(d) != 4 || d[0] <= 0 || d[1] != v.Config.InChannels {
		return fmt.Errorf("vae encode: pixels must be float32 [B, %d, H, W], got %s", v.Config.InChannels, pixels.Shape())
	}
	if d[2] <= 0 || d[3] <= 0 || d[2]%ph != 0 || d[3]%pw != 0 || d[2] > maxSide || d[3] > maxSide {
		return fmt.Errorf("vae encode: image size %dx%d must be a positive multiple of %dx%d (at most %d)", d[2], d[3], ph, pw, maxSide)
	}
	return nil
}

func (v *VAE) checkLatents(latents *tensors.Tensor) error {
	d := latents.Shape().Dimensions
	ph, pw := v.Config.PixelsPerLatent()
	if latents.DType() != dtypes.Float32 || len(d) != 4 || d[0] <= 0 || d[1] != v.Config.LatentChannels() {
		return fmt.Errorf("vae decode: latents must be float32 [B, %d, h, w], got %s", v.Config.LatentChannels(), latents.Shape())
	}
	if d[2] <= 0 || d[3] <= 0 || d[2]*ph > maxSide || d[3]*pw > maxSide {
		return fmt.Errorf("vae decode: latent grid %dx%d must be positive and at most %dx%d", d[2], d[3], maxSide/ph, maxSide/pw)
	}
	return nil
}
