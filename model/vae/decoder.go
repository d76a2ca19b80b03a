package vae

import (
	"strconv"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// Decoder maps VAE latents z [B, ZChannels, h, w] (un-normalised,
// un-patchified) to images [B, OutChannels, h·f, w·f], f = DownFactor,
// values ≈ [-1, 1]. It starts with post_quant_conv when the architecture
// has one and runs the levels from the lowest resolution (official
// "decoder.up.<levels−1>") to full resolution ("decoder.up.0").
func (n Net) Decoder(w Weights, z *Node) *Node {
	c := n.Config
	b, h, wd := z.Shape().Dim(0), z.Shape().Dim(2), z.Shape().Dim(3)
	assertDims("decoder input", z, b, c.ZChannels, h, wd)
	dec := w.In("decoder")
	if c.PostQuantConv {
		z = n.conv1x1(dec, "post_quant_conv", z)
	}
	x := n.conv3x3(dec, "conv_in", z)
	x = n.MidBlock(dec.In("mid"), x)
	for l := c.NumLevels() - 1; l >= 0; l-- {
		level := dec.In("up").In(itoa(l))
		for j := 0; j <= c.NumResBlocks; j++ {
			x = n.ResnetBlock(level.In("block").In(itoa(j)), x)
		}
		if l != 0 {
			x = n.Upsample(level.In("upsample"), x)
		}
		scale := c.DownFactor() >> max(l-1, 0)
		assertDims("decoder level output", x, b, c.DecoderChannels(l), h*scale, wd*scale)
	}
	x = n.conv3x3(dec, "conv_out", SiLU(n.norm(dec, "norm_out", x)))
	assertDims("decoder output", x, b, c.OutChannels, h*c.DownFactor(), wd*c.DownFactor())
	return x
}

// sliceChannels returns channels [from, to) of x [B, C, ...].
func sliceChannels(x *Node, from, to int) *Node {
	if from == 0 && to == x.Shape().Dim(1) {
		return x
	}
	return SliceAxis(x, 1, AxisRange(from, to))
}

func itoa(i int) string { return strconv.Itoa(i) }
