package modelgraph

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.
)

// Weights gives graph code access to model parameters by their full
// checkpoint names, relative to a module prefix. The nodes come from
// wherever the program gets them (context variables, program arguments), so
// layer code never knows.
type Weights struct {
	prefix string
	src    *source
}

type source struct {
	tag     Tag
	lookup  func(name string) *Node
	decoder Decoder
}

// Decoder materialises the weight named base (e.g. "m.weight"), stored in
// another form (quantized), as dtype, reading the stored parts with get (nil
// when a name is absent); it returns nil when base is not stored in a form
// it knows. quant.DecodeWeight is one.
type Decoder func(get func(name string) *Node, base string, dtype dtypes.DType) *Node

// NewWeights returns Weights resolving full names with lookup (nil when a
// name is absent) and weights stored in another form with decoder (may be
// nil). tag prefixes the graph-building errors.
func NewWeights(tag Tag, lookup func(name string) *Node, decoder Decoder) Weights {
	return Weights{src: &source{tag: tag, lookup: lookup, decoder: decoder}}
}

// WeightsFromMap returns Weights over a map of full names to nodes.
func WeightsFromMap(tag Tag, nodes map[string]*Node, decoder Decoder) Weights {
	return NewWeights(tag, func(name string) *Node { return nodes[name] }, decoder)
}

// In returns the weights of a child module: w.In("double_blocks.0").
func (w Weights) In(module string) Weights {
	return Weights{prefix: w.prefix + module + ".", src: w.src}
}

// Path returns the full name of a relative name.
func (w Weights) Path(name string) string { return w.prefix + name }

// Has reports whether the named parameter exists.
func (w Weights) Has(name string) bool { return w.src.lookup(w.prefix+name) != nil }

// Get returns the named parameter; a missing one is a programming or loading
// error and panics (GoMLX graph building reports errors by panicking; Exec
// turns it into an error).
func (w Weights) Get(name string) *Node {
	n := w.src.lookup(w.prefix + name)
	if n == nil {
		Panicf("%s: weight %q is missing", w.src.tag, w.prefix+name)
	}
	return n
}

// GetShaped is Get with a shape check (-1 matches any size), for catching
// mis-shaped weights at graph-build time with a readable message.
func (w Weights) GetShaped(name string, dims ...int) *Node {
	n := w.Get(name)
	w.src.tag.AssertDims("weight "+w.prefix+name, n, dims...)
	return n
}

// Matrix returns the weight [out, in] of linear layer `module` as dtype:
// the plain "module.weight" tensor, or one the decoder materialises from
// another storage (quantized weights are dequantized right here, so only
// one layer's weight exists in high precision at a time).
func (w Weights) Matrix(module string, dtype dtypes.DType) *Node {
	name := w.prefix + module + ".weight"
	if n := w.src.lookup(name); n != nil {
		if n.DType() != dtype {
			n = ConvertDType(n, dtype)
		}
		return n
	}
	if w.src.decoder != nil {
		get := func(n string) *Node { return w.src.lookup(w.prefix + n) }
		if n := w.src.decoder(get, module+".weight", dtype); n != nil {
			return n
		}
	}
	Panicf("%s: weight %q is missing", w.src.tag, name)
	return nil
}

// Linear applies the bias-free linear layer `module` (weight [out, in],
// PyTorch layout, see Matrix) to x: x [..., in] → [..., out], in x's dtype.
func (w Weights) Linear(module string, x *Node) *Node {
	return LinearApply(x, w.Matrix(module, x.DType()))
}

// LinearApply computes x·Wᵀ for W [out, in]: x [..., in] → [..., out],
// casting W to x's dtype.
func LinearApply(x, weight *Node) *Node {
	if weight.Rank() != 2 {
		Panicf("linear weight must be [out, in], got %v", weight.Shape())
	}
	in := x.Shape().Dim(-1)
	if weight.Shape().Dim(1) != in {
		Panicf("linear weight %v does not take inputs of width %d (x %v)", weight.Shape().Dimensions, in, x.Shape().Dimensions)
	}
	if weight.DType() != x.DType() {
		weight = ConvertDType(weight, x.DType())
	}
	return DotGeneral(x, []int{x.Rank() - 1}, nil, weight, []int{1}, nil)
}
