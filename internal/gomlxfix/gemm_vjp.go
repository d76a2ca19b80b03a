package gomlxfix

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// GoMLX v0.26.0 builds the gradients of DotGeneral and Dot as a broadcast
// multiply followed by a reduction, materialising an [I, J, K] tensor: about
// 20× slower than a matrix product on the pure-Go backend (and much slower on
// GPUs). These VJPs express each gradient as one DotGeneral — a GEMM — plus a
// transpose (fixed upstream in v0.28, #428).

// StockDotGeneralVJP and StockDotVJP are GoMLX's own VJPs, kept for tests and
// benchmarks.
var (
	StockDotGeneralVJP = VJPRegistration[NodeTypeDotGeneral]
	StockDotVJP        = VJPRegistration[NodeTypeDot]
)

func init() {
	VJPRegistration[NodeTypeDotGeneral] = dotGeneralVJP
	VJPRegistration[NodeTypeDot] = dotVJP
}

var reDotGeneral = regexp.MustCompile(`DotGeneral\(lhs=\[#\d+\], lhsContractingAxes=\[([\d ]*)\], lhsBatchAxes=\[([\d ]*)\], rhs=\[#\d+\], rhsContractingAxes=\[([\d ]*)\], rhsBatchAxes=\[([\d ]*)\]\)`)

// dotGeneralAxes recovers the axes of a DotGeneral node from its description
// (they live in an unexported struct).
func dotGeneralAxes(node *Node) (lc, lb, rc, rb []int) {
	m := reDotGeneral.FindStringSubmatch(node.String())
	if m == nil {
		panic(fmt.Errorf("gomlxfix: cannot read DotGeneral axes from %q", node.String()))
	}
	parse := func(s string) []int {
		var out []int
		for _, f := range strings.Fields(s) {
			v, err := strconv.Atoi(f)
			if err != nil {
				panic(fmt.Errorf("gomlxfix: bad axis %q in %q", f, node.String()))
			}
			out = append(out, v)
		}
		return out
	}
	return parse(m[1]), parse(m[2]), parse(m[3]), parse(m[4])
}

func dotGeneralVJP(node *Node, v []*Node, _ shapes.Shape) []*Node {
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lc, lb, rc, rb := dotGeneralAxes(node)
	return gemmGradients(lhs, rhs, v[0], lc, lb, rc, rb)
}

// dotVJP handles Dot (rank ≤ 2): it contracts lhs's last axis with rhs's first.
func dotVJP(node *Node, v []*Node, _ shapes.Shape) []*Node {
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	return gemmGradients(lhs, rhs, v[0], []int{lhs.Rank() - 1}, nil, []int{0}, nil)
}

// freeAxes returns the axes of a rank-r operand that are neither batch nor
// contracting, in increasing order.
func freeAxes(rank int, contracting, batch []int) []int {
	used := map[int]bool{}
	for _, a := range contracting {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	var out []int
	for a := 0; a < rank; a++ {
		if !used[a] {
			out = append(out, a)
		}
	}
	return out
}

// gemmGradients returns d/dlhs and d/drhs of DotGeneral(lhs, lc, lb, rhs, rc,
// rb) for the output cotangent v, whose axes are [batch…, lhs free…, rhs
// free…].
func gemmGradients(lhs, rhs, v *Node, lc, lb, rc, rb []int) []*Node {
	nb := len(lb)
	lf := freeAxes(lhs.Rank(), lc, lb)
	rf := freeAxes(rhs.Rank(), rc, rb)
	vBatch := seq(0, nb)
	vLF := seq(nb, nb+len(lf))
	vRF := seq(nb+len(lf), nb+len(lf)+len(rf))

	// d/dlhs: contract v's rhs-free axes with rhs's free axes. The result is
	// [batch…, lhs free…, rhs contracting axes in increasing order].
	dl := dotGeneralCanonical(v, vRF, vBatch, rhs, rf, rb)
	dl = reorder(dl, lhs.Rank(), lb, lf, pairedAxes(rc, lc))

	// d/drhs: contract v's lhs-free axes with lhs's free axes. The result is
	// [batch…, rhs free…, lhs contracting axes in increasing order].
	dr := dotGeneralCanonical(v, vLF, vBatch, lhs, lf, lb)
	dr = reorder(dr, rhs.Rank(), rb, rf, pairedAxes(lc, rc))
	return []*Node{dl, dr}
}

// pairedAxes lists, for the other operand's contracting axes sorted
// increasingly (the order DotGeneral leaves them in), the matching
// contracting axes of this operand.
func pairedAxes(other, mine []int) []int {
	idx := make([]int, len(other))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return other[idx[a]] < other[idx[b]] })
	out := make([]int, len(idx))
	for i, k := range idx {
		out[i] = mine[k]
	}
	return out
}

// reorder transposes x, whose axes are [batch…, free…, contracting…] of an
// operand of the given rank, back to the operand's own axis order.
func reorder(x *Node, rank int, batch, free, contracting []int) *Node {
	src := append(append(append([]int{}, batch...), free...), contracting...) // x axis i is operand axis src[i]
	perm := make([]int, rank)
	identity := true
	for i, a := range src {
		perm[a] = i
	}
	for i, p := range perm {
		identity = identity && p == i
	}
	if identity {
		return x
	}
	return TransposeAllAxes(x, perm...)
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
