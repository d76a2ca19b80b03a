package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// SingleStreamBlock is one FLUX.2 single-stream ("parallel") block over the
// joint sequence: linear1 computes q, k, v and the MLP input in one matmul,
// attention and MLP run side by side, linear2 projects their concatenation.
//
// Weights w are the block's ("single_blocks.i"). x [B, T, D] with T = L+N
// (text first); mod [B, 3D] is the shared single-stream modulation; cos, sin
// [B, T, hd/2]. Returns [B, T, D].
func (c Config) SingleStreamBlock(w Weights, x, mod, cos, sin *Node) *Node {
	b, t, d, m := x.Shape().Dim(0), x.Shape().Dim(1), c.Hidden, c.MLPHidden()
	assertDims("single block x", x, b, t, d)
	assertDims("single block mod", mod, b, 3*d)
	mods := splitModulation(mod, 1)[0]

	// linear1 computes [q | k | v | gate | up] ([B, T, 3D + 2M]) chunk by chunk.
	u := w.LinearSplit("linear1", modulate(x, mods), d, d, d, m, m)
	assertDims("single block linear1 gate", u[3], b, t, m)
	q := splitHeads(u[0], c.NumHeads)
	k := splitHeads(u[1], c.NumHeads)
	v := splitHeads(u[2], c.NumHeads)
	hd := c.HeadDim()
	q = cast(QKNorm(q, w.GetShaped("norm.query_norm.scale", hd)), v)
	k = cast(QKNorm(k, w.GetShaped("norm.key_norm.scale", hd)), v)
	attn := Attention(q, k, v, cos, sin, w.AttentionOptions()) // [B, T, D]
	mlp := swiGLU(u[3], u[4])
	out := w.Linear("linear2", Concatenate([]*Node{attn, mlp}, -1))
	x = gated(x, out, mods)
	assertDims("single block out", x, b, t, d)
	return x
}
