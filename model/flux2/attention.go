package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// Attention is FLUX.2's joint attention: RoPE on q and k, then
// softmax(q·kᵀ/√hd)·v over the whole sequence without any mask.
// q, k, v [B, L, H, hd]; cos, sin [B, L, hd/2] → [B, L, H·hd].
// The softmax is computed in float32. opts picks the kernel (blocked by
// default: nothing [L, L]-sized is kept for the backward, and no tensor
// exceeds one query block's logits; see blockedAttention).
func Attention(q, k, v, cos, sin *Node, opts AttentionOptions) *Node {
	b, l, h, hd := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	assertDims("attention k", k, b, l, h, hd)
	assertDims("attention v", v, b, l, h, hd)
	if k.DType() != v.DType() || q.DType() != v.DType() {
		panicf("flux2: attention q, k, v dtypes %s, %s, %s differ", q.DType(), k.DType(), v.DType())
	}
	q = ApplyRoPE(q, cos, sin)
	k = ApplyRoPE(k, cos, sin)
	var out *Node
	switch opts.Kernel {
	case AttentionPlain:
		out = plainAttention(q, k, v)
	case "", AttentionBlocked:
		out = blockedAttention(q, k, v, opts.QueryBlock(q.Graph().Backend(), b, h, l))
	default:
		panicf("flux2: %v", opts.Validate())
	}
	assertDims("attention out", out, b, l, h, hd)
	return Reshape(out, b, l, h*hd)
}

// splitHeads reshapes [B, L, H·hd] to [B, L, H, hd].
func splitHeads(x *Node, numHeads int) *Node {
	b, l, d := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	return Reshape(x, b, l, numHeads, d/numHeads)
}

// chunk returns the i-th of n equal chunks of x along its last axis.
func chunk(x *Node, n, i int) *Node {
	size := x.Shape().Dim(-1) / n
	return SliceAxis(x, -1, AxisRange(i*size, (i+1)*size))
}
