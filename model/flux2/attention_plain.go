package flux2

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// plainAttention is the reference attention core: q, k, v [B, L, H, hd]
// (RoPE applied) → softmax(q·kᵀ/√hd)·v [B, L, H, hd], with the [B, H, L, L]
// logits and probabilities materialised and the softmax in float32. GoMLX's
// autodiff differentiates it (keeping the probabilities for the backward).
func plainAttention(q, k, v *Node) *Node {
	hd := q.Shape().Dim(3)
	dtype := v.DType()
	logits := Einsum("bqhd,bkhd->bhqk", q, k)
	logits = MulScalar(upcast(logits), 1/math.Sqrt(float64(hd)))
	probs := Softmax(logits, -1)
	if probs.DType() != dtype {
		probs = ConvertDType(probs, dtype)
	}
	return Einsum("bhqk,bkhd->bqhd", probs, v)
}
