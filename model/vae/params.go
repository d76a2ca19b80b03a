package vae

import (
	"fmt"
	"maps"
	"slices"

	"github.com/flora-ml/flora/internal/tensorload"
)

// Official module paths. Encoder levels are indexed by resolution (0 = full
// resolution) and so are decoder levels ("decoder.up.0" is the last one to
// run).

func encoderLevel(l int) string { return fmt.Sprintf("encoder.down.%d", l) }
func decoderLevel(l int) string { return fmt.Sprintf("decoder.up.%d", l) }
func resBlock(level string, j int) string {
	return fmt.Sprintf("%s.block.%d", level, j)
}

// BatchNorm statistics names.
const (
	bnMean = "bn.running_mean"
	bnVar  = "bn.running_var"
)

// ParamShapes lists every tensor of the model by its official name with its
// shape (OIHW for convolutions, the 1×1 attention projections included), the
// two BatchNorm statistics included. It is the source of truth for loading
// and parameter counting.
func (c Config) ParamShapes() map[string][]int {
	p := map[string][]int{}
	conv := func(name string, out, in, k int) {
		p[name+".weight"] = []int{out, in, k, k}
		p[name+".bias"] = []int{out}
	}
	norm := func(name string, ch int) {
		p[name+".weight"] = []int{ch}
		p[name+".bias"] = []int{ch}
	}
	resnet := func(name string, in, out int) {
		norm(name+".norm1", in)
		conv(name+".conv1", out, in, 3)
		norm(name+".norm2", out)
		conv(name+".conv2", out, out, 3)
		if in != out {
			conv(name+".nin_shortcut", out, in, 1)
		}
	}
	mid := func(name string, ch int) {
		resnet(name+".block_1", ch, ch)
		if c.MidAttention {
			norm(name+".attn_1.norm", ch)
			for _, proj := range []string{"q", "k", "v", "proj_out"} {
				conv(name+".attn_1."+proj, ch, ch, 1)
			}
		}
		resnet(name+".block_2", ch, ch)
	}
	last := c.NumLevels() - 1

	// Encoder.
	conv("encoder.conv_in", c.Ch, c.InChannels, 3)
	in := c.Ch
	for l := 0; l <= last; l++ {
		out := c.EncoderChannels(l)
		for j := 0; j < c.NumResBlocks; j++ {
			resnet(resBlock(encoderLevel(l), j), in, out)
			in = out
		}
		if l != last {
			conv(encoderLevel(l)+".downsample.conv", in, in, 3)
		}
	}
	mid("encoder.mid", in)
	norm("encoder.norm_out", in)
	conv("encoder.conv_out", 2*c.ZChannels, in, 3)
	if c.QuantConv {
		conv("encoder.quant_conv", 2*c.ZChannels, 2*c.ZChannels, 1)
	}

	// Decoder.
	if c.PostQuantConv {
		conv("decoder.post_quant_conv", c.ZChannels, c.ZChannels, 1)
	}
	in = c.DecoderChannels(last)
	conv("decoder.conv_in", in, c.ZChannels, 3)
	mid("decoder.mid", in)
	for l := last; l >= 0; l-- {
		out := c.DecoderChannels(l)
		for j := 0; j <= c.NumResBlocks; j++ {
			resnet(resBlock(decoderLevel(l), j), in, out)
			in = out
		}
		if l != 0 {
			conv(decoderLevel(l)+".upsample.conv", in, in, 3)
		}
	}
	norm("decoder.norm_out", in)
	conv("decoder.conv_out", c.OutChannels, in, 3)

	p[bnMean] = []int{c.LatentChannels()}
	p[bnVar] = []int{c.LatentChannels()}
	return p
}

// ParamNames returns the official tensor names in sorted order.
func (c Config) ParamNames() []string {
	return slices.Sorted(maps.Keys(c.ParamShapes()))
}

// NumParams returns the number of trainable parameters (everything but the
// BatchNorm statistics) and the number of BatchNorm statistics.
func (c Config) NumParams() (params, stats int64) {
	for name, s := range c.ParamShapes() {
		n := tensorload.Elements(s)
		if name == bnMean || name == bnVar {
			stats += n
		} else {
			params += n
		}
	}
	return params, stats
}
