package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// FinalLayer is the output adaptive LayerNorm and projection.
// Weights w are "final_layer"; x [B, N, D] (image tokens only), vec [B, D] →
// [B, N, InChannels]. In the official layout the adaLN output is
// (shift, scale); diffusers stores the rows swapped (the loader un-swaps).
func (c Config) FinalLayer(w Weights, x, vec *Node) *Node {
	b, n, d := x.Shape().Dim(0), x.Shape().Dim(1), c.Hidden
	assertDims("final layer x", x, b, n, d)
	mod := w.Linear("adaLN_modulation.1", silu(vec)) // [B, 2D]
	shift := Reshape(chunk(mod, 2, 0), b, 1, d)
	scale := Reshape(chunk(mod, 2, 1), b, 1, d)
	y := LayerNormNoAffine(x)
	y = Add(Mul(OnePlus(cast(scale, y)), y), cast(shift, y))
	out := w.Linear("linear", y)
	assertDims("final layer out", out, b, n, c.InChannels)
	return out
}
