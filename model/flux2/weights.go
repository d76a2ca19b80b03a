package flux2

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Weights gives graph code access to model parameters by their official
// checkpoint names, relative to a module prefix. The nodes come from wherever
// the program gets them (context variables in a whole-model program,
// arguments of a per-block program), so block code never knows.
//
// Linear layers go through a LinearFunc, the seam where LoRA adapters and
// quantized base weights plug in without touching block code; attention
// runs as the AttentionOptions the Weights carry (WithAttention).
type Weights struct {
	prefix string
	src    *weightSource
}

type weightSource struct {
	lookup    func(name string) *Node
	linear    LinearFunc
	decoder   WeightDecoder
	attention AttentionOptions
}

// WeightDecoder materialises the weight matrix [out, in] of a linear layer
// stored in another form (quantized) as dtype, or returns nil when the
// layer is not stored in a form it knows.
type WeightDecoder func(w Weights, module string, dtype dtypes.DType) *Node

// LinearFunc computes the linear layer `module` (a name relative to w, e.g.
// "img_attn.qkv") of x [..., in] → [..., out]. Implementations read their
// parameters through w (w.Path(module) is the full official module path).
type LinearFunc func(w Weights, module string, x *Node) *Node

// NewWeights returns Weights resolving full official names with lookup
// (nil when a name is absent), linear layers with linear (nil means
// DenseLinear) and non-float weight storage with decoder (may be nil).
func NewWeights(lookup func(name string) *Node, linear LinearFunc, decoder WeightDecoder) Weights {
	if linear == nil {
		linear = DenseLinear
	}
	return Weights{src: &weightSource{lookup: lookup, linear: linear, decoder: decoder}}
}

// WeightsFromMap returns Weights over a map of full official names to nodes.
func WeightsFromMap(nodes map[string]*Node, linear LinearFunc, decoder WeightDecoder) Weights {
	return NewWeights(func(name string) *Node { return nodes[name] }, linear, decoder)
}

// WithAttention returns the same weights with attention computed as opts
// (the zero AttentionOptions otherwise).
func (w Weights) WithAttention(opts AttentionOptions) Weights {
	src := *w.src
	src.attention = opts
	return Weights{prefix: w.prefix, src: &src}
}

// AttentionOptions returns how blocks compute attention.
func (w Weights) AttentionOptions() AttentionOptions { return w.src.attention }

// In returns the weights of a child module: w.In("double_blocks.0").
func (w Weights) In(module string) Weights {
	return Weights{prefix: w.prefix + module + ".", src: w.src}
}

// Path returns the full official name of a relative name.
func (w Weights) Path(name string) string { return w.prefix + name }

// Has reports whether the named parameter exists.
func (w Weights) Has(name string) bool { return w.src.lookup(w.prefix+name) != nil }

// Get returns the named parameter; a missing one is a programming or loading
// error and panics (GoMLX graph building reports errors by panicking; Exec
// turns it into an error).
func (w Weights) Get(name string) *Node {
	n := w.src.lookup(w.prefix + name)
	if n == nil {
		panicf("flux2: weight %q is missing", w.prefix+name)
	}
	return n
}

// GetShaped is Get with a shape check, for catching mis-shaped weights at
// graph-build time with a readable message.
func (w Weights) GetShaped(name string, dims ...int) *Node {
	n := w.Get(name)
	if !n.Shape().Equal(shapes.Make(n.DType(), dims...)) {
		panicf("flux2: weight %q has shape %v, want %v", w.prefix+name, n.Shape().Dimensions, dims)
	}
	return n
}

// Linear applies the linear layer `module` to x.
func (w Weights) Linear(module string, x *Node) *Node { return w.src.linear(w, module, x) }

// Matrix returns the weight [out, in] of linear layer `module` as dtype:
// the plain "module.weight" tensor, or one the decoder materialises from
// another storage (quantized weights are dequantized right here, so only
// one layer's weight exists in high precision at a time).
func (w Weights) Matrix(module string, dtype dtypes.DType) *Node {
	if n := w.src.lookup(w.prefix + module + ".weight"); n != nil {
		if n.DType() != dtype {
			n = ConvertDType(n, dtype)
		}
		return n
	}
	if w.src.decoder != nil {
		if n := w.src.decoder(w, module, dtype); n != nil {
			return n
		}
	}
	panicf("flux2: weight %q is missing", w.prefix+module+".weight")
	return nil
}

// DenseLinear is the plain FLUX.2 linear layer: y = x·Wᵀ with W the layer's
// weight [out, in] (PyTorch layout, no bias anywhere in the transformer),
// cast to x's dtype. x [..., in] → [..., out].
func DenseLinear(w Weights, module string, x *Node) *Node {
	return LinearApply(x, w.Matrix(module, x.DType()))
}

// LinearApply computes x·Wᵀ for W [out, in]: x [..., in] → [..., out],
// casting W to x's dtype.
func LinearApply(x, weight *Node) *Node {
	if weight.Rank() != 2 {
		panicf("flux2: linear weight must be [out, in], got %v", weight.Shape())
	}
	in := x.Shape().Dim(-1)
	if weight.Shape().Dim(1) != in {
		panicf("flux2: linear weight %v does not take inputs of width %d (x %v)", weight.Shape().Dimensions, in, x.Shape().Dimensions)
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
		panicf("flux2: %s has shape %v, want %v", what, x.Shape().Dimensions, dims)
	}
}

// panicf reports a graph-building error the GoMLX way: a panic with an error
// value, which Exec and the program builders turn back into a returned error.
func panicf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}
