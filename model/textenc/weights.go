package textenc

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/flora-ml/flora/model/quant"
)

// Weights gives graph code access to model parameters by canonical name
// (relative to the language model root, e.g. "layers.3.mlp.up_proj.weight"),
// relative to a module prefix. The nodes come from wherever the program gets
// them (here: program arguments), so layer code never knows.
type Weights struct {
	prefix string
	lookup func(name string) *Node
}

// NewWeights returns Weights resolving full canonical names with lookup (nil
// when a name is absent).
func NewWeights(lookup func(name string) *Node) Weights {
	return Weights{lookup: lookup}
}

// WeightsFromMap returns Weights over a map of full canonical names to nodes.
func WeightsFromMap(nodes map[string]*Node) Weights {
	return NewWeights(func(name string) *Node { return nodes[name] })
}

// In returns the weights of a child module: w.In("layers.0").
func (w Weights) In(module string) Weights {
	return Weights{prefix: w.prefix + module + ".", lookup: w.lookup}
}

// Path returns the full canonical name of a relative name.
func (w Weights) Path(name string) string { return w.prefix + name }

// Get returns the named parameter; a missing one is a programming or loading
// error and panics (GoMLX graph building reports errors by panicking; Exec
// turns it into an error).
func (w Weights) Get(name string) *Node {
	n := w.lookup(w.prefix + name)
	if n == nil {
		panicf("textenc: weight %q is missing", w.prefix+name)
	}
	return n
}

// GetShaped is Get with a shape check.
func (w Weights) GetShaped(name string, dims ...int) *Node {
	n := w.Get(name)
	if !n.Shape().Equal(shapes.Make(n.DType(), dims...)) {
		panicf("textenc: weight %q has shape %v, want %v", w.prefix+name, n.Shape().Dimensions, dims)
	}
	return n
}

// Linear applies the bias-free linear layer `module` (weight [out, in],
// PyTorch layout) to x [..., in] → [..., out], in x's dtype. A weight stored
// quantized (module.weight.int8 / .fp8 / .nf4 and its scales) is
// dequantized to x's dtype first.
func (w Weights) Linear(module string, x *Node) *Node {
	name := module + ".weight"
	if weight := w.lookup(w.prefix + name); weight != nil {
		return LinearApply(x, weight)
	}
	weight := quant.DecodeWeight(func(n string) *Node { return w.lookup(w.prefix + n) }, name, x.DType())
	if weight == nil {
		panicf("textenc: weight %q is missing", w.prefix+name)
	}
	return LinearApply(x, weight)
}

// LinearApply computes x·Wᵀ for W [out, in]: x [..., in] → [..., out],
// casting W to x's dtype.
func LinearApply(x, weight *Node) *Node {
	if weight.Rank() != 2 || weight.Shape().Dim(1) != x.Shape().Dim(-1) {
		panicf("textenc: linear weight %v does not take inputs of width %d (x %v)", weight.Shape().Dimensions, x.Shape().Dim(-1), x.Shape().Dimensions)
	}
	if weight.DType() != x.DType() {
		weight = ConvertDType(weight, x.DType())
	}
	return DotGeneral(x, []int{x.Rank() - 1}, nil, weight, []int{1}, nil)
}

// assertDims panics with a readable message when x does not have the given
// dimensions (-1 matches any size). Used at block boundaries.
func assertDims(what string, x *Node, dims ...int) {
	ok := x.Rank() == len(dims)
	for i := 0; ok && i < len(dims); i++ {
		ok = dims[i] < 0 || x.Shape().Dim(i) == dims[i]
	}
	if !ok {
		panicf("textenc: %s has shape %v, want %v", what, x.Shape().Dimensions, dims)
	}
}

// panicf reports a graph-building error the GoMLX way: a panic with an error
// value, which Exec turns back into a returned error.
func panicf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}
