package gomlxfix

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// GoMLX v0.26.0's Slice gradient pads the cotangent with the Pad op, which
// the pure-Go backend does not implement, so no gradient flows through Slice,
// Split or anything built on them there. This VJP builds the same result from
// Concatenate with zeros (and a reshape for strided axes), which every
// backend supports.

func init() {
	VJPRegistration[NodeTypeSlice] = sliceVJP
}

var reSliceParams = regexp.MustCompile(`Slice\(x=\[#\d+\], starts=\[([-\d ]*)\], limits=\[([-\d ]*)\], strides=\[([-\d ]*)\]\)`)

// sliceParams recovers the slice bounds from the node's description (the
// parameters live in an unexported struct).
func sliceParams(node *Node) (starts, limits, strides []int, err error) {
	m := reSliceParams.FindStringSubmatch(node.String())
	if m == nil {
		return nil, nil, nil, fmt.Errorf("gomlxfix: cannot read slice parameters from %q", node.String())
	}
	parse := func(s string) ([]int, error) {
		var out []int
		for _, f := range strings.Fields(s) {
			v, err := strconv.Atoi(f)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	if starts, err = parse(m[1]); err != nil {
		return
	}
	if limits, err = parse(m[2]); err != nil {
		return
	}
	strides, err = parse(m[3])
	return
}

func sliceVJP(node *Node, v []*Node, _ shapes.Shape) []*Node {
	x := node.Inputs()[0]
	starts, limits, strides, err := sliceParams(node)
	if err != nil {
		panic(err)
	}
	grad := v[0]
	dims := x.Shape().Dimensions
	for axis := range dims {
		stride := 1
		if axis < len(strides) && strides[axis] > 1 {
			stride = strides[axis]
		}
		grad = scatterAxis(grad, axis, dims[axis], starts[axis], limits[axis], stride)
	}
	return []*Node{grad}
}

// scatterAxis places g (whose axis holds the sliced elements) back into an
// axis of size dim, at positions start, start+stride, ... (< limit), with
// zeros elsewhere.
func scatterAxis(g *Node, axis, dim, start, limit, stride int) *Node {
	m := g.Shape().Dim(axis)
	if m == dim {
		return g
	}
	zeros := func(n int) *Node {
		d := g.Shape().Clone().Dimensions
		d[axis] = n
		return Zeros(g.Graph(), shapes.Make(g.DType(), d...))
	}
	if stride > 1 && m > 0 {
		// Interleave s−1 zeros after each element: [.., m, ..] → [.., m·s, ..].
		e := InsertAxes(g, axis+1)
		d := e.Shape().Clone().Dimensions
		d[axis+1] = stride - 1
		e = Concatenate([]*Node{e, Zeros(g.Graph(), shapes.Make(g.DType(), d...))}, axis+1)
		d = g.Shape().Clone().Dimensions
		d[axis] = m * stride
		g = Reshape(e, d...)
		// Keep only what fits before the end of the axis.
		if keep := dim - start; g.Shape().Dim(axis) > keep {
			g = SliceAxis(g, axis, AxisRange(0, keep))
		}
	}
	parts := []*Node{}
	if start > 0 {
		parts = append(parts, zeros(start))
	}
	parts = append(parts, g)
	if rest := dim - start - g.Shape().Dim(axis); rest > 0 {
		parts = append(parts, zeros(rest))
	}
	if len(parts) == 1 {
		return g
	}
	return Concatenate(parts, axis)
}
