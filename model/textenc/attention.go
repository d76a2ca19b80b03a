package textenc

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// AttentionAllowed builds the boolean attention pattern [B, L, L] (query,
// key) of transformers' causal mask combined with the padding mask: query i
// may attend key j iff j ≤ i, mask[b, j] ≠ 0 and, with a sliding window w > 0,
// i − j < w. mask is [B, L] of any integer dtype (1 = real token, 0 = pad).
// Padding only masks keys: a pad query still attends the real keys before it,
// and a query without any allowed key (a left-pad position) gets an all-false
// row.
func AttentionAllowed(mask *Node, slidingWindow int) *Node {
	b, l := mask.Shape().Dim(0), mask.Shape().Dim(1)
	g := mask.Graph()
	q := Iota(g, shapes.Make(dtypes.Int32, l, l), 0)
	k := Iota(g, shapes.Make(dtypes.Int32, l, l), 1)
	allowed := GreaterOrEqual(q, k)
	if slidingWindow > 0 {
		allowed = LogicalAnd(allowed, GreaterThan(k, SubScalar(q, slidingWindow)))
	}
	keyOK := NotEqual(mask, ScalarZero(g, mask.DType()))
	return LogicalAnd(
		BroadcastToDims(Reshape(allowed, 1, l, l), b, l, l),
		BroadcastToDims(Reshape(keyOK, b, 1, l), b, l, l))
}

// maskedFill is the logit given to disallowed keys: finite, so a fully masked
// row does not produce NaNs before it is zeroed.
const maskedFill = -1e30

// GQAAttention is scaled dot-product attention with grouped key/value heads
// and a boolean pattern, computed in float32 and returned in q's dtype.
// q [B, L, H, hd], k and v [B, L, KV, hd] (query head h uses key/value head
// h / (H/KV), as transformers' repeat_kv), allowed [B, L, L] → [B, L, H·hd].
//
// Rows of allowed that are all false give a zero output, as PyTorch's SDPA
// (math, flash and memory-efficient kernels, torch ≥ 2.5) does for fully
// masked rows; transformers' eager attention would instead average all values.
func GQAAttention(q, k, v, allowed *Node) *Node {
	b, l, h, hd := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	kvh := k.Shape().Dim(2)
	assertDims("attention k", k, b, l, kvh, hd)
	assertDims("attention v", v, b, l, kvh, hd)
	assertDims("attention pattern", allowed, b, l, l)
	if kvh <= 0 || h%kvh != 0 {
		panicf("textenc: %d query heads cannot share %d key/value heads", h, kvh)
	}
	group := h / kvh
	dtype := q.DType()
	qf := Reshape(upcast(q), b, l, kvh, group, hd)
	logits := Einsum("bqngd,bsnd->bngqs", qf, upcast(k)) // [B, KV, G, Lq, Lk]
	logits = MulScalar(logits, 1/math.Sqrt(float64(hd)))
	pattern := BroadcastToDims(Reshape(allowed, b, 1, 1, l, l), b, kvh, group, l, l)
	logits = Where(pattern, logits, Scalar(q.Graph(), dtypes.Float32, maskedFill))
	rowMax := ReduceAndKeep(logits, ReduceMax, -1)
	weights := Mul(Exp(Sub(logits, rowMax)), ConvertDType(pattern, dtypes.Float32))
	sum := ReduceAndKeep(weights, ReduceSum, -1)
	sum = Where(GreaterThan(sum, ZerosLike(sum)), sum, OnesLike(sum)) // fully masked rows: 0/1
	probs := Div(weights, sum)
	out := Einsum("bngqs,bsnd->bqngd", probs, upcast(v)) // [B, Lq, KV, G, hd]
	return ConvertDType(Reshape(out, b, l, h*hd), dtype)
}
