package flux2

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// blockedAttention is the memory-efficient attention core (FlashAttention's
// algorithm with query blocks): q, k, v [B, L, H, hd] (RoPE applied) →
// softmax(q·kᵀ/√hd)·v [B, L, H, hd], equal to plainAttention up to float
// rounding.
//
// Forward: for each block of blockQ query rows, the logits [B, H, blockQ, L]
// get an exact row softmax in float32 (normalised after the product with V),
// the block's output is P·V, and the per-row log-sum-exp
// LSE = max + log Σ exp(s − max) is kept. Only the output and LSE [B, H, L]
// outlive a block.
//
// Backward (withCustomVJP, so GoMLX's autodiff never sees the blocks): with
// Δ = rowsum(dO∘O), for each block the probabilities are recomputed as
// P = exp(s − LSE) and
//
//	dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P∘(dP − Δ),  dQ = dS·K/√hd,  dK += dSᵀ·Q/√hd.
//
// The backward works on transposed blocks [B, H, L, blockQ] (keys major):
// dV and dK then contract the block axis without transposes, and the
// recomputed logits are not the same instruction as the forward's, so XLA's
// common-subexpression elimination cannot merge them and keep every
// forward block alive until the backward.
//
// The blocks are unrolled in the graph (GoMLX v0.26 has no loops); blockQ
// comes from AttentionOptions.QueryBlock. Each block's inputs are made to
// depend on the previous block's results (after), so that blocks run one
// after the other and only one block's [B, H, blockQ, L] tensors are alive.
func blockedAttention(q, k, v *Node, blockQ int) *Node {
	b, l, h, hd := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	if blockQ <= 0 {
		panicf("flux2: attention query block %d must be > 0", blockQ)
	}
	a := newAttnHeads(StopGradient(q), StopGradient(k), StopGradient(v), blockQ)
	out, lse := a.forward()
	assertDims("blocked attention out", out, b, h, l, hd)
	assertDims("blocked attention lse", lse, b, h, l)
	return withCustomVJP(fromHeadMajor(out), []*Node{q, k, v}, func(dOut *Node) []*Node {
		dq, dk, dv := a.backward(toHeadMajor(dOut), out, lse)
		return []*Node{fromHeadMajor(dq), fromHeadMajor(dk), fromHeadMajor(dv)}
	})
}

// attnHeads holds q, k, v head-major [B, H, L, hd], k transposed
// [B, H, hd, L] and the query blocks.
//
// Every block product is written in the layout XLA's CPU dot takes without
// copying an operand: lhs [.., M, K] · rhs [.., K, N]. A product whose lhs
// contracts its row axis, or (batched) whose rhs contracts its last axis,
// makes XLA transpose that operand on every block: measured on the attention
// shapes of the small bench config, 1.3–2.5 ms per product instead of ~1.1 ms
// (PERF.md §10). So kᵀ, qᵀ and dOᵀ are transposed once per attention, not
// once per block.
type attnHeads struct {
	q, k, v *Node
	qs      *Node // q/√hd [B, H, L, hd]: the logits come out of the dot scaled
	kT      *Node // [B, H, hd, L]
	dtype   dtypes.DType
	scale   float64
	blocks  [][2]int // [start, end) query rows
}

func newAttnHeads(q, k, v *Node, blockQ int) *attnHeads {
	l, hd := q.Shape().Dim(1), q.Shape().Dim(3)
	a := &attnHeads{q: toHeadMajor(q), k: toHeadMajor(k), v: toHeadMajor(v), kT: TransposeAllDims(k, 0, 2, 3, 1),
		dtype: v.DType(), scale: 1 / math.Sqrt(float64(hd))}
	// Scaling q ([L, hd]) instead of each block's logits ([n, L]) saves a
	// pass over the logits: they have two consumers (row max, exp), so XLA
	// materialises a scaled copy (10% of a forward at 9,280 tokens).
	a.qs = toDType(MulScalar(upcast(a.q), a.scale), a.dtype)
	for start := 0; start < l; start += blockQ {
		a.blocks = append(a.blocks, [2]int{start, min(start+blockQ, l)})
	}
	return a
}

// toHeadMajor transposes [B, L, H, hd] to [B, H, L, hd].
func toHeadMajor(x *Node) *Node { return TransposeAllDims(x, 0, 2, 1, 3) }

// fromHeadMajor transposes [B, H, L, hd] back to [B, L, H, hd].
func fromHeadMajor(x *Node) *Node { return TransposeAllDims(x, 0, 2, 1, 3) }

// rows returns x[:, :, start:end] of a head-major tensor [B, H, L, ...] (x
// itself for the whole sequence).
func rows(x *Node, blk [2]int) *Node {
	if blk[0] == 0 && blk[1] == x.Shape().Dim(2) {
		return x
	}
	return SliceAxis(x, 2, AxisRange(blk[0], blk[1]))
}

// cols returns x[:, :, :, start:end] of a transposed head-major tensor
// [B, H, hd, L] (x itself for the whole sequence).
func cols(x *Node, blk [2]int) *Node {
	if blk[0] == 0 && blk[1] == x.Shape().Dim(3) {
		return x
	}
	return SliceAxis(x, 3, AxisRange(blk[0], blk[1]))
}

// transposeLast swaps the last two axes of a rank-4 tensor.
func transposeLast(x *Node) *Node { return TransposeAllDims(x, 0, 1, 3, 2) }

// concatBlocks joins per-block head-major tensors along the row axis.
func concatBlocks(parts []*Node) *Node {
	return concatAxis(parts, 2)
}

func concatAxis(parts []*Node, axis int) *Node {
	if len(parts) == 1 {
		return parts[0]
	}
	return Concatenate(parts, axis)
}

// toDType converts x to dtype when it differs.
func toDType(x *Node, dtype dtypes.DType) *Node {
	if x.DType() != dtype {
		return ConvertDType(x, dtype)
	}
	return x
}

// forward returns the output [B, H, L, hd] (v's dtype) and the row
// log-sum-exp [B, H, L] (float32).
func (a *attnHeads) forward() (out, lse *Node) {
	outs := make([]*Node, len(a.blocks))
	lses := make([]*Node, len(a.blocks))
	// [V | 1] [B, H, L, hd+1]: e·[V | 1] gives e·V and the row sums of e in
	// one product, instead of a separate reduction pass over e.
	hd := a.v.Shape().Dim(3)
	vOnes := Concatenate([]*Node{a.v, OnesLike(SliceAxis(a.v, 3, AxisRange(0, 1)))}, 3)
	for i, blk := range a.blocks {
		qi := rows(a.qs, blk) // [B, H, n, hd], scaled
		if i > 0 {
			qi = after(qi, outs[i-1], lses[i-1])
		}
		// Logits [B, H, n, L] in the compute dtype, then float32 (as the reference).
		s := upcast(DotGeneral(qi, []int{3}, []int{0, 1}, a.kT, []int{2}, []int{0, 1}))
		mx := ReduceAndKeep(s, ReduceMax, -1)
		e := Exp(Sub(s, mx))
		// P·V = (e·V)/den: normalising the [n, hd] product instead of the
		// [n, L] probabilities saves one pass over the block's logits.
		ev1 := upcast(DotGeneral(toDType(e, a.dtype), []int{3}, []int{0, 1}, vOnes, []int{2}, []int{0, 1})) // [B, H, n, hd+1]
		den := SliceAxis(ev1, 3, AxisRange(hd, hd+1))                                                       // [B, H, n, 1]
		outs[i] = toDType(Div(SliceAxis(ev1, 3, AxisRange(0, hd)), den), a.dtype)
		lses[i] = Squeeze(Add(mx, Log(den)), -1) // [B, H, n]
	}
	return concatBlocks(outs), concatBlocks(lses)
}

// backward returns dq, dk, dv [B, H, L, hd] for the output cotangent dOut
// [B, H, L, hd], given the forward's output and log-sum-exp.
func (a *attnHeads) backward(dOut, out, lse *Node) (dq, dk, dv *Node) {
	// Δ = rowsum(dO∘O) = rowsum(dP∘P), [B, H, L] float32.
	delta := ReduceSum(Mul(upcast(dOut), upcast(out)), -1)
	qsT, dOutT := transposeLast(a.qs), transposeLast(dOut) // [B, H, hd, L]
	dqTs := make([]*Node, len(a.blocks))                   // dqᵀ blocks [B, H, hd, n]
	for i, blk := range a.blocks {
		qi, dOi := rows(a.q, blk), rows(dOut, blk)    // [B, H, n, hd]
		qiT, dOiT := cols(qsT, blk), cols(dOutT, blk) // [B, H, hd, n], q scaled
		if i == 0 {
			// Not before the cotangent exists: the recomputed logits
			// depend on q and k only, and XLA would compute every
			// attention's first block early and keep it.
			qiT = after(qiT, dOut)
		} else {
			qi, dOi = after(qi, dqTs[i-1], dk, dv), after(dOi, dqTs[i-1], dk, dv)
			qiT, dOiT = after(qiT, dqTs[i-1], dk, dv), after(dOiT, dqTs[i-1], dk, dv)
		}
		// Per-query statistics as [B, H, 1, n], to broadcast over the key axis.
		lseT := InsertAxes(rows(lse, blk), 2)
		deltaT := InsertAxes(rows(delta, blk), 2)
		// Transposed logits and probabilities [B, H, L, n].
		sT := upcast(DotGeneral(a.k, []int{3}, []int{0, 1}, qiT, []int{2}, []int{0, 1}))
		pT := Exp(Sub(sT, lseT))
		dvi := DotGeneral(toDType(pT, a.dtype), []int{3}, []int{0, 1}, dOi, []int{2}, []int{0, 1}) // [B, H, L, hd]
		dpT := upcast(DotGeneral(a.v, []int{3}, []int{0, 1}, dOiT, []int{2}, []int{0, 1}))         // [B, H, L, n]
		dsT := toDType(MulScalar(Mul(pT, Sub(dpT, deltaT)), a.scale), a.dtype)                     // dS/√hd
		dqTs[i] = DotGeneral(a.kT, []int{3}, []int{0, 1}, dsT, []int{2}, []int{0, 1})              // [B, H, hd, n]
		dki := DotGeneral(dsT, []int{3}, []int{0, 1}, qi, []int{2}, []int{0, 1})                   // [B, H, L, hd]
		if i == 0 {
			dk, dv = upcast(dki), upcast(dvi)
		} else {
			dk, dv = Add(dk, upcast(dki)), Add(dv, upcast(dvi))
		}
	}
	return transposeLast(concatAxis(dqTs, 3)), toDType(dk, a.dtype), toDType(dv, a.dtype)
}

// after returns x, unchanged in value, with a data dependency on deps: XLA
// must finish them before it starts on x's consumers. GoMLX v0.26 has no
// control dependencies or optimization barrier, and without this XLA's
// scheduler interleaves the independent unrolled blocks and keeps most of
// their [B, H, blockQ, L] tensors alive at once (measured: 72 such tensors
// at the peak of a small-model training step at 4,160 tokens).
//
// The dependency is x + (IsFinite(Σ first elements of deps) ? 0 : 1e-30): a
// select XLA cannot fold away, exact for finite deps, and harmless (no NaN
// spreads to later blocks) otherwise.
func after(x *Node, deps ...*Node) *Node {
	var sum *Node
	for _, d := range deps {
		e := upcast(Reshape(SliceAxis(Reshape(d, -1), 0, AxisRange(0, 1))))
		if sum == nil {
			sum = e
		} else {
			sum = Add(sum, e)
		}
	}
	g := x.Graph()
	tiny := Where(IsFinite(sum), ScalarZero(g, sum.DType()), Scalar(g, sum.DType(), 1e-30))
	return Add(x, toDType(tiny, x.DType()))
}
