package vae

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/flora-ml/flora/internal/modelgraph"
)

// Weights gives graph code access to model tensors by their official
// checkpoint names, relative to a module prefix; see modelgraph.Weights.
type Weights = modelgraph.Weights

// graphErrors tags this package's graph-building errors.
const graphErrors = modelgraph.Tag("vae")

// NewWeights returns Weights resolving full official names with lookup (nil
// when a name is absent).
func NewWeights(lookup func(name string) *Node) Weights {
	return modelgraph.NewWeights(graphErrors, lookup, nil)
}

// WeightsFromMap returns Weights over a map of full official names to nodes.
func WeightsFromMap(nodes map[string]*Node) Weights {
	return NewWeights(func(name string) *Node { return nodes[name] })
}

// assertDims panics with a readable message when x does not have the given
// dimensions (-1 matches any size). Used at block boundaries.
func assertDims(what string, x *Node, dims ...int) { graphErrors.AssertDims(what, x, dims...) }

// castTo converts x to dtype of like when they differ.
func castTo(x, like *Node) *Node {
	if x.DType() != like.DType() {
		return ConvertDType(x, like.DType())
	}
	return x
}

// zerosOf returns zeros of x's dtype with the given dims.
func zerosOf(x *Node, dims ...int) *Node {
	return Zeros(x.Graph(), shapes.Make(x.DType(), dims...))
}

// panicf reports a graph-building error (modelgraph.Panicf).
func panicf(format string, args ...any) { modelgraph.Panicf(format, args...) }
