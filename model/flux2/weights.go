package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.

	"github.com/flora-ml/flora/internal/modelgraph"
)

// Weights gives graph code access to model parameters by their official
// checkpoint names, relative to a module prefix (modelgraph.Weights: In,
// Path, Has, Get, GetShaped, Matrix). The nodes come from wherever the
// program gets them (context variables in a whole-model program, arguments
// of a per-block program), so block code never knows.
//
// Linear layers go through a LinearFunc, the seam where LoRA adapters and
// quantized base weights plug in without touching block code; attention
// runs as the AttentionOptions the Weights carry (WithAttention).
type Weights struct {
	modelgraph.Weights
	src *weightSource
}

type weightSource struct {
	linear    LinearFunc
	attention AttentionOptions
}

// WeightDecoder materialises the weight of a linear layer stored in
// another form (quantized); see modelgraph.Decoder (quant.DecodeWeight is
// one).
type WeightDecoder = modelgraph.Decoder

// LinearFunc computes the linear layer `module` (a name relative to w, e.g.
// "img_attn.qkv") of x [..., in] → [..., out], returned as consecutive
// chunks of the output rows with the given sizes (nil: one chunk of all
// rows; see RowChunks). Each chunk is computed from its own rows of the
// weights (LinearChunks), never by slicing the whole output: the gradient of
// such a slice is a zero-padded [..., out] tensor per chunk, summed.
// Implementations read their parameters through w (w.Path(module) is the
// full official module path).
type LinearFunc func(w Weights, module string, x *Node, sizes []int) []*Node

// graphErrors tags this package's graph-building errors.
const graphErrors = modelgraph.Tag("flux2")

// assertDims panics with a readable message when x does not have the given
// dimensions (-1 matches any size). Used at block boundaries.
func assertDims(what string, x *Node, dims ...int) { graphErrors.AssertDims(what, x, dims...) }

// panicf reports a graph-building error (modelgraph.Panicf).
func panicf(format string, args ...any) { modelgraph.Panicf(format, args...) }

// NewWeights returns Weights resolving full official names with lookup
// (nil when a name is absent), linear layers with linear (nil means
// DenseLinear) and non-float weight storage with decoder (may be nil).
func NewWeights(lookup func(name string) *Node, linear LinearFunc, decoder WeightDecoder) Weights {
	if linear == nil {
		linear = DenseLinear
	}
	return Weights{Weights: modelgraph.NewWeights(graphErrors, lookup, decoder), src: &weightSource{linear: linear}}
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
	return Weights{Weights: w.Weights, src: &src}
}

// AttentionOptions returns how blocks compute attention.
func (w Weights) AttentionOptions() AttentionOptions { return w.src.attention }

// In returns the weights of a child module: w.In("double_blocks.0").
func (w Weights) In(module string) Weights {
	return Weights{Weights: w.Weights.In(module), src: w.src}
}

// Linear applies the linear layer `module` to x.
func (w Weights) Linear(module string, x *Node) *Node { return w.src.linear(w, module, x, nil)[0] }

// LinearSplit applies the fused linear layer `module` to x and returns its
// output as consecutive chunks of the given sizes along the last axis (they
// must add up to the layer's output rows): q, k, v of a fused qkv layer.
// The chunks are computed separately from slices of the weights, so the
// backward sums thin per-chunk products instead of zero-padded full-width
// cotangents.
func (w Weights) LinearSplit(module string, x *Node, sizes ...int) []*Node {
	out := w.src.linear(w, module, x, sizes)
	if len(out) != len(sizes) {
		panicf("flux2: linear %q returned %d chunks, want %d", w.Path(module), len(out), len(sizes))
	}
	return out
}

// DenseLinear is the plain FLUX.2 linear layer: y = x·Wᵀ with W the layer's
// weight [out, in] (PyTorch layout, no bias anywhere in the transformer),
// cast to x's dtype. x [..., in] → [..., out], in chunks of sizes rows.
func DenseLinear(w Weights, module string, x *Node, sizes []int) []*Node {
	return LinearChunks(x, w.Matrix(module, x.DType()), sizes)
}

// RowChunks returns the row ranges [from, to) of consecutive chunks of the
// given sizes over out rows; nil sizes is one chunk of all rows. Sizes that
// are not positive or do not add up to out panic (a graph-building error).
func RowChunks(sizes []int, out int) [][2]int {
	if sizes == nil {
		return [][2]int{{0, out}}
	}
	ranges := make([][2]int, len(sizes))
	from := 0
	for i, n := range sizes {
		if n <= 0 {
			panicf("flux2: chunk sizes %v of a linear layer must be positive", sizes)
		}
		ranges[i] = [2]int{from, from + n}
		from += n
	}
	if from != out {
		panicf("flux2: chunk sizes %v add up to %d, the layer has %d output rows", sizes, from, out)
	}
	return ranges
}

// LinearChunks computes x·Wᵀ for W [out, in] in chunks of sizes output
// rows (RowChunks), each with its own rows of W: x [..., in] → one
// [..., size] per chunk.
func LinearChunks(x, weight *Node, sizes []int) []*Node {
	ranges := RowChunks(sizes, weight.Shape().Dim(0))
	if len(ranges) == 1 {
		return []*Node{LinearApply(x, weight)}
	}
	out := make([]*Node, len(ranges))
	for i, r := range ranges {
		out[i] = LinearApply(x, SliceAxis(weight, 0, AxisRange(r[0], r[1])))
	}
	return out
}

// LinearApply computes x·Wᵀ for W [out, in]: x [..., in] → [..., out],
// casting W to x's dtype (modelgraph.LinearApply).
func LinearApply(x, weight *Node) *Node { return modelgraph.LinearApply(x, weight) }
