package modelgraph

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.
)

// Panicf reports a graph-building error the GoMLX way: a panic with an error
// value, which Exec and the program builders turn back into a returned error.
func Panicf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}

// Tag names the model package ("flux2", "vae", …) that graph-building
// errors come from; it prefixes their messages.
type Tag string

// AssertDims panics with a readable message when x does not have the given
// dimensions (-1 matches any size). Used at block boundaries; what names x
// in the message.
func (t Tag) AssertDims(what string, x *Node, dims ...int) {
	ok := x.Rank() == len(dims)
	for i := 0; ok && i < len(dims); i++ {
		ok = dims[i] < 0 || x.Shape().Dim(i) == dims[i]
	}
	if !ok {
		Panicf("%s: %s has shape %v, want %v", t, what, x.Shape().Dimensions, dims)
	}
}
