package vae

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Weights gives graph code access to model tensors by their official
// checkpoint names, relative to a module prefix. The nodes come from
// wherever the program gets them (here: program arguments), so layer code
// never knows.
type Weights struct {
	prefix string
	lookup func(name string) *Node
}

// NewWeights returns Weights resolving full official names with lookup (nil
// when a name is absent).
func NewWeights(lookup func(name string) *Node) Weights {
	return Weights{lookup: lookup}
}

// WeightsFromMap returns Weights over a map of full official names to nodes.
func WeightsFromMap(nodes map[string]*Node) Weights {
	return NewWeights(func(name string) *Node { return nodes[name] })
}

// In returns the weights of a child module: w.In("encoder.mid").
func (w Weights) In(module string) Weights {
	return Weights{prefix: w.prefix + module + ".", lookup: w.lookup}
}

// Path returns the full official name of a relative name.
func (w Weights) Path(name string) string { return w.prefix + name }

// Has reports whether the named tensor exists.
func (w Weights) Has(name string) bool { return w.lookup(w.prefix+name) != nil }

// Get returns the named tensor; a missing one is a programming or loading
// error and panics (GoMLX reports graph-building errors by panicking; Exec
// turns the panic into a returned error).
func (w Weights) Get(name string) *Node {
	n := w.lookup(w.prefix + name)
	if n == nil {
		panicf("vae: weight %q is missing", w.prefix+name)
	}
	return n
}

// GetShaped is Get with a shape check (-1 matches any size).
func (w Weights) GetShaped(name string, dims ...int) *Node {
	n := w.Get(name)
	assertDims("weight "+w.prefix+name, n, dims...)
	return n
}

// assertDims panics with a readable message when x does not have the given
// dimensions (-1 matches any size). Used at block boundaries.
func assertDims(what string, x *Node, dims ...int) {
	ok := x.Rank() == len(dims)
	for i := 0; ok && i < len(dims); i++ {
		ok = dims[i] < 0 || x.Shape().Dim(i) == dims[i]
	}
	if !ok {
		panicf("vae: %s has shape %v, want %v", what, x.Shape().Dimensions, dims)
	}
}

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

// panicf reports a graph-building error the GoMLX way: a panic with an error
// value, which Exec turns back into a returned error.
func panicf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}
