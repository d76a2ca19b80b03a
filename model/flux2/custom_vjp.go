package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// withCustomVJP gives out a hand-written gradient with respect to several
// inputs. GoMLX v0.26's only custom-gradient hook, IdentityWithCustomGradient,
// is a same-shape identity of one node; this composes it into a multi-input
// vector-Jacobian product:
//
//	result = StopGradient(out) + Σᵢ (sᵢ − StopGradient(sᵢ)),  sᵢ = IdentityWithCustomGradient(inputs[i], fᵢ)
//
// The value is exactly out (each sᵢ − sᵢ is 0), and reverse-mode autodiff
// hands every sᵢ the cotangent of result unchanged (Add and Sub pass it
// through; StopGradient blocks the other paths), so fᵢ returns
// backward(cotangent)[i]. backward runs once per cotangent and its results
// are shared by all fᵢ.
//
// out must be computed from StopGradient'ed inputs (autodiff must not enter
// it); every input must have out's shape and dtype, and backward must return
// one gradient per input with the input's shape and dtype.
func withCustomVJP(out *Node, inputs []*Node, backward func(dOut *Node) []*Node) *Node {
	for _, x := range inputs {
		if !x.Shape().Equal(out.Shape()) {
			panicf("flux2: custom gradient input has shape %s, want the output's %s", x.Shape(), out.Shape())
		}
	}
	var memoFor *Node
	var memo []*Node
	grads := func(v *Node) []*Node {
		if v != memoFor {
			memo = backward(v)
			if len(memo) != len(inputs) {
				panicf("flux2: custom gradient returned %d gradients for %d inputs", len(memo), len(inputs))
			}
			for i, g := range memo {
				if !g.Shape().Equal(inputs[i].Shape()) {
					panicf("flux2: custom gradient %d has shape %s, want %s", i, g.Shape(), inputs[i].Shape())
				}
			}
			memoFor = v
		}
		return memo
	}
	result := StopGradient(out)
	for i, x := range inputs {
		s := IdentityWithCustomGradient(x, func(_, v *Node) *Node { return grads(v)[i] })
		result = Add(result, Sub(s, StopGradient(s)))
	}
	return result
}
