package gomlxfix

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// VJPs GoMLX v0.26.0 lacks ("no gradient is defined yet" panics) for ops a
// model or loss may use: Rsqrt, Expm1, Identity and Clamp (which Clip uses).

func init() {
	VJPRegistration[NodeTypeRsqrt] = single(func(node, v *Node) []*Node {
		// d/dx x^(−1/2) = −½·x^(−3/2) = −½·rsqrt(x)/x.
		x := node.Inputs()[0]
		return []*Node{Mul(v, Div(MulScalar(node, -0.5), x))}
	})
	VJPRegistration[NodeTypeExpm1] = single(func(node, v *Node) []*Node {
		return []*Node{Mul(v, Exp(node.Inputs()[0]))}
	})
	VJPRegistration[NodeTypeIdentity] = single(func(node, v *Node) []*Node {
		return []*Node{v}
	})
	VJPRegistration[NodeTypeClamp] = single(clampVJP)
}

func single(fn func(node, v *Node) []*Node) VJP {
	return func(node *Node, v []*Node, _ shapes.Shape) []*Node { return fn(node, v[0]) }
}

// clampVJP routes the cotangent of Clamp(min, x, max) to x inside the range
// and to the bound that was active outside it (summed over broadcast axes
// when a bound is a scalar).
func clampVJP(node, v *Node) []*Node {
	in := node.Inputs()
	lo, x, hi := in[0], in[1], in[2]
	zero := ZerosLike(v)
	below := LessThan(x, broadcastTo(lo, x))
	above := GreaterThan(x, broadcastTo(hi, x))
	inside := LogicalNot(LogicalOr(below, above))
	return []*Node{
		reduceTo(Where(below, v, zero), lo),
		Where(inside, v, zero),
		reduceTo(Where(above, v, zero), hi),
	}
}

func broadcastTo(b, like *Node) *Node {
	if b.Shape().Equal(like.Shape()) {
		return b
	}
	if b.IsScalar() {
		return BroadcastToShape(b, like.Shape())
	}
	panic(fmt.Errorf("gomlxfix: Clamp bound of shape %v does not match %v", b.Shape(), like.Shape()))
}

func reduceTo(g, like *Node) *Node {
	if like.IsScalar() {
		return ReduceAllSum(g)
	}
	return g
}
