package textenc

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.

	"github.com/flora-ml/flora/internal/modelgraph"
	"github.com/flora-ml/flora/model/quant"
)

// Weights gives graph code access to model parameters by canonical name
// (relative to the language model root, e.g. "layers.3.mlp.up_proj.weight"),
// relative to a module prefix; see modelgraph.Weights. Linear applies a
// bias-free layer, dequantizing a weight stored quantized (module.weight.int8
// / .fp8 / .nf4 and its scales) to x's dtype first.
type Weights = modelgraph.Weights

// graphErrors tags this package's graph-building errors.
const graphErrors = modelgraph.Tag("textenc")

// NewWeights returns Weights resolving full canonical names with lookup (nil
// when a name is absent); quantized linear weights are decoded in the graph.
func NewWeights(lookup func(name string) *Node) Weights {
	return modelgraph.NewWeights(graphErrors, lookup, quant.DecodeWeight)
}

// WeightsFromMap returns Weights over a map of full canonical names to nodes.
func WeightsFromMap(nodes map[string]*Node) Weights {
	return NewWeights(func(name string) *Node { return nodes[name] })
}

// assertDims panics with a readable message when x does not have the given
// dimensions (-1 matches any size). Used at block boundaries.
func assertDims(what string, x *Node, dims ...int) { graphErrors.AssertDims(what, x, dims...) }

// panicf reports a graph-building error (modelgraph.Panicf).
func panicf(format string, args ...any) { modelgraph.Panicf(format, args...) }
