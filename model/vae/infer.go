package vae

import (
	"fmt"
	"regexp"
)

var (
	reOfficialEncLevel = regexp.MustCompile(`^encoder\.down\.(\d+)\.`)
	reDiffEncLevel     = regexp.MustCompile(`^encoder\.down_blocks\.(\d+)\.`)
	reOfficialEncBlock = regexp.MustCompile(`^encoder\.down\.0\.block\.(\d+)\.`)
	reDiffEncBlock     = regexp.MustCompile(`^encoder\.down_blocks\.0\.resnets\.(\d+)\.`)
)

// DefaultGroups is the GroupNorm group count assumed when inferring a
// configuration from weights, which do not show it: 32 in every published
// FLUX.2 autoencoder (the official code hard-codes it).
const DefaultGroups = 32

// InferConfig reads the architecture off the tensor shapes. The GroupNorm
// group count is not visible in the weights: it is DefaultGroups, and an
// error says so when the channel counts do not divide by it (diffusers
// folders should pass their config.json through ParseDiffusersConfig).
func InferConfig(src TensorSource, layout Layout) (Config, error) {
	names := storedNames(src, layout)
	reLevel, reBlock := reOfficialEncLevel, reOfficialEncBlock
	if layout == LayoutDiffusers {
		reLevel, reBlock = reDiffEncLevel, reDiffEncBlock
	}
	levels := maxIndex(names, reLevel)
	if levels == 0 || levels > 10 {
		return Config{}, fmt.Errorf("found %d encoder levels, want 1 to 10", levels)
	}
	c := Config{ChMult: make([]int, levels), PatchSize: [2]int{2, 2}, Groups: DefaultGroups,
		NormEps: GroupNormEpsilon, BatchNormEps: BatchNormEpsilon}
	has := func(official string) bool {
		n, err := c.nameOf(official, layout)
		_, ok := names[n]
		return err == nil && ok
	}
	dims := func(official string, rank int) ([]int, error) {
		n, err := c.nameOf(official, layout)
		if err != nil {
			return nil, err
		}
		stored, ok := names[n]
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing", n)
		}
		d, _ := src.Dims(stored)
		if len(d) != rank {
			return nil, fmt.Errorf("tensor %s has shape %v, want rank %d", stored, d, rank)
		}
		for _, x := range d {
			if x <= 0 || x > maxChannels {
				return nil, fmt.Errorf("tensor %s has shape %v, outside [1, %d]", stored, d, maxChannels)
			}
		}
		return d, nil
	}
	convIn, err := dims("encoder.conv_in.weight", 4)
	if err != nil {
		return c, err
	}
	c.Ch, c.InChannels = convIn[0], convIn[1]
	for l := range c.ChMult {
		d, err := dims(resBlock(encoderLevel(l), 0)+".conv2.weight", 4)
		if err != nil {
			return c, err
		}
		if d[0]%c.Ch != 0 {
			return c, fmt.Errorf("encoder level %d has %d channels, not a multiple of the base %d", l, d[0], c.Ch)
		}
		c.ChMult[l] = d[0] / c.Ch
	}
	if c.NumResBlocks = maxIndex(names, reBlock); c.NumResBlocks == 0 {
		return c, fmt.Errorf("encoder level 0 has no resnet blocks")
	}
	convOut, err := dims("encoder.conv_out.weight", 4)
	if err != nil {
		return c, err
	}
	if convOut[0]%2 != 0 {
		return c, fmt.Errorf("encoder conv_out has %d outputs, want 2·z_channels", convOut[0])
	}
	c.ZChannels = convOut[0] / 2
	decOut, err := dims("decoder.conv_out.weight", 4)
	if err != nil {
		return c, err
	}
	c.OutChannels = decOut[0]
	dec0, err := dims(resBlock(decoderLevel(0), 0)+".conv2.weight", 4)
	if err != nil {
		return c, err
	}
	if dec0[0]%c.ChMult[0] != 0 {
		return c, fmt.Errorf("decoder level 0 has %d channels, not a multiple of ch_mult[0] = %d", dec0[0], c.ChMult[0])
	}
	if dch := dec0[0] / c.ChMult[0]; dch != c.Ch {
		c.DecoderCh = dch
	}
	c.QuantConv = has("encoder.quant_conv.weight")
	c.PostQuantConv = has("decoder.post_quant_conv.weight")
	c.MidAttention = has("encoder.mid.attn_1.q.weight")
	bn, err := dims(bnMean, 1)
	if err != nil {
		return c, err
	}
	if bn[0] != c.LatentChannels() {
		return c, fmt.Errorf("BatchNorm has %d channels, want %d (z_channels %d × 2×2 patch)", bn[0], c.LatentChannels(), c.ZChannels)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("inferred architecture (GroupNorm group count assumed %d, as weights do not show it; "+
			"pass the model's config in Options.Config, e.g. ParseDiffusersConfig of the diffusers vae/config.json): %w", DefaultGroups, err)
	}
	return c, nil
}
