package gomlxfix

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// dotGeneralCanonical returns DotGeneral(a, ac, ab, b, bc, bb) — same value,
// same shape [batch…, a free…, b free…] — computed on operands reshaped so
// that XLA's CPU dot needs no transpose copy of a large operand:
//
//   - size-1 axes are dropped from both operands (a contraction or batch over
//     a size-1 axis is a product; a size-1 free axis holds one element);
//   - contracting axes that are consecutive and in the same order in both
//     operands are merged into one.
//
// Why: the weight gradients of a linear layer contract the activations'
// [B, T] axes. With B = 1 this is a two-axis contraction whose canonical form
// (XLA's DotDecomposer) transposes the whole [1, T, out] cotangent to
// [out, 1, T], a strided copy fused into the producer that cost ~20% of a
// LoRA step on XLA CPU (PERF.md §10). As a single contracting axis, XLA's dot
// takes the operand as it is (Eigen/oneDNN read it transposed).
// The final Reshape restores the dropped size-1 axes; it does not move data
// because dropping size-1 axes and merging adjacent ones keep element order.
func dotGeneralCanonical(a *Node, ac, ab []int, b *Node, bc, bb []int) *Node {
	aDims, bDims := a.Shape().Dimensions, b.Shape().Dimensions
	outDims := make([]int, 0, a.Rank()+b.Rank())
	for _, ax := range ab {
		outDims = append(outDims, aDims[ax])
	}
	for _, ax := range freeAxes(a.Rank(), ac, ab) {
		outDims = append(outDims, aDims[ax])
	}
	for _, ax := range freeAxes(b.Rank(), bc, bb) {
		outDims = append(outDims, bDims[ax])
	}

	// Pairs (contracting, batch) whose size is 1 are dropped from both sides.
	keepPairs := func(as, bs []int) (ka, kb []int) {
		for i := range as {
			if aDims[as[i]] != 1 {
				ka, kb = append(ka, as[i]), append(kb, bs[i])
			}
		}
		return ka, kb
	}
	if !hasSizeOne(aDims) && !hasSizeOne(bDims) && !mergeable(ac, bc) {
		return DotGeneral(a, ac, ab, b, bc, bb)
	}
	ac2, bc2 := keepPairs(ac, bc)
	ab2, bb2 := keepPairs(ab, bb)

	// squeeze drops every size-1 axis of x and renumbers the kept axes.
	squeeze := func(x *Node) (*Node, map[int]int) {
		dims := x.Shape().Dimensions
		index := map[int]int{}
		var kept []int
		for ax, d := range dims {
			if d != 1 {
				index[ax] = len(kept)
				kept = append(kept, d)
			}
		}
		if kept == nil {
			kept = []int{}
		}
		return Reshape(x, kept...), index
	}
	renumber := func(axes []int, index map[int]int) []int {
		out := make([]int, len(axes))
		for i, ax := range axes {
			out[i] = index[ax]
		}
		return out
	}
	aS, aIdx := squeeze(a)
	bS, bIdx := squeeze(b)
	ac3, ab3 := renumber(ac2, aIdx), renumber(ab2, aIdx)
	bc3, bb3 := renumber(bc2, bIdx), renumber(bb2, bIdx)
	if mergeable(ac3, bc3) {
		aS, ac3, ab3 = mergeAxes(aS, ac3, ab3)
		bS, bc3, bb3 = mergeAxes(bS, bc3, bb3)
	}
	return Reshape(DotGeneral(aS, ac3, ab3, bS, bc3, bb3), outDims...)
}

func hasSizeOne(dims []int) bool {
	for _, d := range dims {
		if d == 1 {
			return true
		}
	}
	return false
}

// mergeable reports whether two or more contracting axes are consecutive and
// increasing in both operands, so each side can fold them into one axis with a
// Reshape while keeping the pairing.
func mergeable(ac, bc []int) bool {
	if len(ac) < 2 {
		return false
	}
	for i := 1; i < len(ac); i++ {
		if ac[i] != ac[i-1]+1 || bc[i] != bc[i-1]+1 {
			return false
		}
	}
	return true
}

// mergeAxes folds the consecutive, increasing axes run of x into one axis at
// run[0]; the other axes keep their order. It returns the reshaped node, the
// merged axis as the new contracting list and batch renumbered (axes after
// the run shift down by len(run)-1).
func mergeAxes(x *Node, run, batch []int) (*Node, []int, []int) {
	dims := x.Shape().Dimensions
	first, last := run[0], run[len(run)-1]
	merged := 1
	for _, ax := range run {
		merged *= dims[ax]
	}
	out := append([]int{}, dims[:first]...)
	out = append(out, merged)
	out = append(out, dims[last+1:]...)
	newBatch := make([]int, len(batch))
	for i, ax := range batch {
		if ax > last {
			ax -= len(run) - 1
		}
		newBatch[i] = ax
	}
	return Reshape(x, out...), []int{first}, newBatch
}
