package vae

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// Encoder maps images x [B, InChannels, H, W] (values in [-1, 1]; H and W
// multiples of DownFactor) to the Gaussian moments
// [B, 2·ZChannels, H/f, W/f], f = DownFactor: channels [0, z) are the
// posterior mean, [z, 2z) the log-variance. It ends with quant_conv when
// the architecture has one. w holds the official names ("encoder.…").
func (n Net) Encoder(w Weights, x *Node) *Node {
	c := n.Config
	b, h, wd := x.Shape().Dim(0), x.Shape().Dim(2), x.Shape().Dim(3)
	assertDims("encoder input", x, b, c.InChannels, h, wd)
	f := c.DownFactor()
	if h%f != 0 || wd%f != 0 {
		panicf("vae: encoder input %dx%d is not a multiple of %d", h, wd, f)
	}
	enc := w.In("encoder")
	x = n.conv3x3(enc, "conv_in", x)
	last := c.NumLevels() - 1
	for l := 0; l <= last; l++ {
		level := enc.In("down").In(itoa(l))
		for j := 0; j < c.NumResBlocks; j++ {
			x = n.ResnetBlock(level.In("block").In(itoa(j)), x)
		}
		if l != last {
			x = n.Downsample(level.In("downsample"), x)
		}
		assertDims("encoder level output", x, b, c.EncoderChannels(l), h>>min(l+1, last), wd>>min(l+1, last))
	}
	x = n.MidBlock(enc.In("mid"), x)
	x = n.conv3x3(enc, "conv_out", SiLU(n.norm(enc, "norm_out", x)))
	if c.QuantConv {
		x = n.conv1x1(enc, "quant_conv", x)
	}
	assertDims("encoder moments", x, b, 2*c.ZChannels, h/f, wd/f)
	return x
}

// EncoderMean is the posterior mean: the first ZChannels channels of the
// Encoder moments, [B, ZChannels, H/f, W/f]. FLUX.2 never samples.
func (n Net) EncoderMean(w Weights, x *Node) *Node {
	return sliceChannels(n.Encoder(w, x), 0, n.Config.ZChannels)
}
