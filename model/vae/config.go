package vae

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// Numerical constants of every published FLUX.2 autoencoder.
const (
	// GroupNormEpsilon is the epsilon of every GroupNorm.
	GroupNormEpsilon = 1e-6
	// BatchNormEpsilon is the epsilon of the latent BatchNorm.
	BatchNormEpsilon = 1e-4
)

// Config is the architecture of one FLUX.2 autoencoder.
type Config struct {
	// InChannels is the number of image channels read by the encoder (3).
	InChannels int
	// OutChannels is the number of image channels written by the decoder (3).
	OutChannels int
	// Ch is the base channel count; level l of the encoder has Ch·ChMult[l]
	// channels.
	Ch int
	// ChMult are the per-level channel multipliers, from full resolution
	// down; every level but the last halves the resolution.
	ChMult []int
	// NumResBlocks is the number of ResnetBlocks per encoder level; decoder
	// levels have NumResBlocks+1.
	NumResBlocks int
	// ZChannels is the number of latent channels before patchifying (the
	// encoder emits 2·ZChannels moments, of which the first ZChannels are the
	// posterior mean).
	ZChannels int
	// DecoderCh is the decoder's base channel count; 0 means Ch. The
	// "small decoder" variant uses 96 with Ch 128.
	DecoderCh int
	// Groups is the number of GroupNorm groups (32 in every official model;
	// diffusers' norm_num_groups).
	Groups int
	// QuantConv and PostQuantConv say whether the 1×1 quant_conv (after the
	// encoder) and post_quant_conv (before the decoder) exist. Both are
	// always present in official checkpoints; diffusers can leave them out.
	QuantConv, PostQuantConv bool
	// MidAttention says whether the mid blocks have their attention layer
	// (always in official checkpoints; diffusers' mid_block_add_attention).
	MidAttention bool
	// PatchSize is the latent patchify size (2×2).
	PatchSize [2]int
	// NormEps is the GroupNorm epsilon (GroupNormEpsilon).
	NormEps float64
	// BatchNormEps is the latent BatchNorm epsilon (BatchNormEpsilon).
	BatchNormEps float64
}

// FLUX2Config is the published FLUX.2 autoencoder (ae.safetensors, and the
// vae/ folder of the diffusers repositories): 84,046,115 parameters plus 256
// BatchNorm statistics.
func FLUX2Config() Config {
	return Config{InChannels: 3, OutChannels: 3, Ch: 128, ChMult: []int{1, 2, 4, 4}, NumResBlocks: 2, ZChannels: 32,
		Groups: 32, QuantConv: true, PostQuantConv: true, MidAttention: true, PatchSize: [2]int{2, 2},
		NormEps: GroupNormEpsilon, BatchNormEps: BatchNormEpsilon}
}

// SmallDecoderConfig is the published encoder with the "small decoder"
// (decoder base channel 96; FLUX.2-small-decoder, third-party evidence only).
func SmallDecoderConfig() Config {
	c := FLUX2Config()
	c.DecoderCh = 96
	return c
}

// OfficialTinyConfig is the configuration of the official tiny reference
// fixture (ch 32, ch_mult [1, 2], 1 res block, z 4): latents have
// 16 channels, the transformer's tiny in_channels.
func OfficialTinyConfig() Config {
	return Config{InChannels: 3, OutChannels: 3, Ch: 32, ChMult: []int{1, 2}, NumResBlocks: 1, ZChannels: 4,
		Groups: 32, QuantConv: true, PostQuantConv: true, MidAttention: true, PatchSize: [2]int{2, 2},
		NormEps: GroupNormEpsilon, BatchNormEps: BatchNormEpsilon}
}

// Equal reports whether two configurations describe the same architecture.
func (c Config) Equal(o Config) bool {
	a, b := c, o
	a.DecoderCh, b.DecoderCh = a.DecoderBaseCh(), b.DecoderBaseCh()
	a.ChMult, b.ChMult = slices.Clone(a.ChMult), slices.Clone(b.ChMult)
	return reflect.DeepEqual(a, b)
}

// DecoderBaseCh is the decoder's base channel count.
func (c Config) DecoderBaseCh() int {
	if c.DecoderCh > 0 {
		return c.DecoderCh
	}
	return c.Ch
}

// NumLevels is the number of resolution levels.
func (c Config) NumLevels() int { return len(c.ChMult) }

// EncoderChannels returns the channel count of encoder level l.
func (c Config) EncoderChannels(l int) int { return c.Ch * c.ChMult[l] }

// DecoderChannels returns the channel count of decoder level l (official
// indexing: level 0 is full resolution).
func (c Config) DecoderChannels(l int) int { return c.DecoderBaseCh() * c.ChMult[l] }

// DownFactor is the ratio between image size and VAE latent size
// (2^(levels−1): 8 for the published model).
func (c Config) DownFactor() int { return 1 << (c.NumLevels() - 1) }

// PixelsPerLatent returns the image pixels per packed-latent cell along
// height and width (16×16 for the published model).
func (c Config) PixelsPerLatent() (int, int) {
	return c.DownFactor() * c.PatchSize[0], c.DownFactor() * c.PatchSize[1]
}

// LatentChannels is the channel count of the packed, normalised latents
// (ZChannels·patch area: 128 for the published model).
func (c Config) LatentChannels() int { return c.ZChannels * c.PatchSize[0] * c.PatchSize[1] }

// maxChannels bounds channel counts so that untrusted configurations cannot
// ask for absurd allocations.
const maxChannels = 1 << 14

// Validate checks the internal consistency of the configuration.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 || v > maxChannels {
			errs = append(errs, fmt.Errorf("%s must be in [1, %d], got %d", name, maxChannels, v))
		}
	}
	pos("InChannels", c.InChannels)
	pos("OutChannels", c.OutChannels)
	pos("Ch", c.Ch)
	pos("ZChannels", c.ZChannels)
	pos("Groups", c.Groups)
	if c.DecoderCh != 0 {
		pos("DecoderCh", c.DecoderCh)
	}
	if c.NumResBlocks <= 0 || c.NumResBlocks > 64 {
		errs = append(errs, fmt.Errorf("NumResBlocks must be in [1, 64], got %d", c.NumResBlocks))
	}
	if len(c.ChMult) == 0 || len(c.ChMult) > 10 {
		errs = append(errs, fmt.Errorf("ChMult must have 1 to 10 levels, got %v", c.ChMult))
	}
	for i, m := range c.ChMult {
		if m <= 0 || m > maxChannels {
			errs = append(errs, fmt.Errorf("ChMult[%d] must be in [1, %d], got %d", i, maxChannels, m))
		}
	}
	if !(c.NormEps > 0 && c.NormEps < 1) || !(c.BatchNormEps > 0 && c.BatchNormEps < 1) {
		errs = append(errs, fmt.Errorf("NormEps %g and BatchNormEps %g must be in (0, 1)", c.NormEps, c.BatchNormEps))
	}
	if c.PatchSize[0] <= 0 || c.PatchSize[1] <= 0 || c.PatchSize[0] > 8 || c.PatchSize[1] > 8 {
		errs = append(errs, fmt.Errorf("PatchSize must be in [1, 8]², got %v", c.PatchSize))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for l := range c.ChMult {
		for _, part := range []struct {
			name string
			ch   int
		}{{"encoder", c.EncoderChannels(l)}, {"decoder", c.DecoderChannels(l)}} {
			if part.ch > maxChannels {
				errs = append(errs, fmt.Errorf("%s level %d has %d channels, more than %d", part.name, l, part.ch, maxChannels))
			} else if part.ch%c.Groups != 0 {
				errs = append(errs, fmt.Errorf("%s level %d has %d channels, not divisible into %d GroupNorm groups", part.name, l, part.ch, c.Groups))
			}
		}
	}
	return errors.Join(errs...)
}
