package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// Modulation is one (shift, scale, gate) set of adaptive-norm parameters,
// each [B, 1, D] so it broadcasts over the sequence.
type Modulation struct {
	Shift, Scale, Gate *Node
}

// ModulationVector computes a shared modulation layer: lin(SiLU(vec)).
// vec [B, D] → [B, k·D]. FLUX.2 computes each of these once per forward and
// shares it by every block of a kind.
func ModulationVector(w Weights, module string, vec *Node) *Node {
	return w.Linear(module+".lin", silu(vec))
}

// splitModulation splits a modulation vector [B, 3n·D] into n
// (shift, scale, gate) sets in the reference order.
func splitModulation(mod *Node, n int) []Modulation {
	b := mod.Shape().Dim(0)
	out := make([]Modulation, n)
	for i := range out {
		part := func(j int) *Node {
			c := chunk(mod, 3*n, 3*i+j)
			return Reshape(c, b, 1, c.Shape().Dim(-1))
		}
		out[i] = Modulation{Shift: part(0), Scale: part(1), Gate: part(2)}
	}
	return out
}

// modulate computes (1 + scale)·LayerNorm(x) + shift for x [B, L, D].
func modulate(x *Node, m Modulation) *Node {
	n := LayerNormNoAffine(x)
	return Add(Mul(OnePlus(cast(m.Scale, n)), n), cast(m.Shift, n))
}

// gated returns x + gate·y.
func gated(x, y *Node, m Modulation) *Node {
	return Add(x, Mul(cast(m.Gate, y), y))
}

// cast converts x to like's dtype when they differ.
func cast(x, like *Node) *Node {
	if x.DType() != like.DType() {
		return ConvertDType(x, like.DType())
	}
	return x
}
