package lora

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/model/flux2"
)

// Variable names of adapter slot k on module M, relative to the model root:
//
//	M.lora.k.down   [rank, in]   A
//	M.lora.k.up     [rows, rank] B, for the rows the part adapts (all out rows,
//	                             or a slice of a fused layer's)
//	M.lora.k.scale  []           (alpha/rank)·strength
//	M.lora.k.alpha  []           alpha·strength in float64 (not used by the
//	                             graph: Extract reads the exact alpha back)
//	M.lora.k.offset [offset]     only for a slice starting past row 0: frozen
//	                             zeros whose length is the slice's first row
//	                             (graph shapes are static, so the offset is a shape)
//
// In the GoMLX context they live in scope /M/lora/k, under the base layer's
// own scope, so an adapter's variables are found next to the weight it adapts.
// The names are built by varname.AdapterSlot.

// IsAdapterVariable reports whether an official-style variable name belongs
// to a LoRA slot.
func IsAdapterVariable(name string) bool { return varname.IsAdapter(name) }

// Wrap returns a LinearFunc that adds every LoRA slot present on a layer to
// the output of base (nil means flux2.DenseLinear):
// y = base(x) + Σ_k scale_k·B_k·(A_k·x) (a LoKr slot adds
// scale_k·kron(W1_k, W2_k)·x, addLoKr), a slot's B adding to its rows only
// (zero rows around it are built in the graph, so they are not weights and
// get no updates). Layers without slots are untouched, so the same wrapper
// serves any mix of adapted and plain layers. A layer computed in chunks of
// rows (flux2.Weights.LinearSplit) shares one A_k·x and gives each chunk the
// rows of B_k that fall in it; chunks outside a slot's rows get nothing.
func Wrap(base flux2.LinearFunc) flux2.LinearFunc {
	if base == nil {
		base = flux2.DenseLinear
	}
	return func(w flux2.Weights, module string, x *Node, sizes []int) []*Node {
		ys := base(w, module, x, sizes)
		out := 0
		for _, y := range ys {
			out += y.Shape().Dim(-1)
		}
		chunks := flux2.RowChunks(sizes, out)
		for k := 0; ; k++ {
			if w.Has(varname.AdapterSlot(module, k, varname.AdapterW1)) {
				addLoKr(w, module, k, x, ys, chunks)
				continue
			}
			if !w.Has(varname.AdapterSlot(module, k, varname.AdapterDown)) {
				break
			}
			down := w.Get(varname.AdapterSlot(module, k, varname.AdapterDown))
			up := w.Get(varname.AdapterSlot(module, k, varname.AdapterUp))
			scale := w.Get(varname.AdapterSlot(module, k, varname.AdapterScale))
			offset := 0
			if w.Has(varname.AdapterSlot(module, k, varname.AdapterOffset)) {
				offset = w.Get(varname.AdapterSlot(module, k, varname.AdapterOffset)).Shape().Dim(0)
			}
			rows := up.Shape().Dim(0)
			if offset < 0 || offset+rows > out {
				panic(fmt.Errorf("lora: slot rows [%d,%d) do not fit the layer's %d output rows", offset, offset+rows, out))
			}
			h := flux2.LinearApply(x, down) // [..., rank]
			for i, c := range chunks {
				from, to := max(c[0], offset), min(c[1], offset+rows)
				if from >= to {
					continue // the slot adapts none of this chunk's rows
				}
				b := up
				if from != offset || to != offset+rows {
					b = SliceAxis(up, 0, AxisRange(from-offset, to-offset))
				}
				b = padRows(b, from-c[0], c[1]-c[0]) // [chunk rows, rank]
				d := flux2.LinearApply(h, b)         // [..., chunk rows]
				ys[i] = Add(ys[i], Mul(d, ConvertDType(scale, d.DType())))
			}
		}
		return ys
	}
}

// addLoKr adds LoKr slot k's scale·x·kron(W1, W2)ᵀ to the chunks of ys
// (lokrApply; a LoKr slot covers all rows).
func addLoKr(w flux2.Weights, module string, k int, x *Node, ys []*Node, chunks [][2]int) {
	get := func(field string) *Node {
		if name := varname.AdapterSlot(module, k, field); w.Has(name) {
			return w.Get(name)
		}
		return nil
	}
	d := lokrApply(x, get(varname.AdapterW1), get(varname.AdapterW2), get(varname.AdapterW2A), get(varname.AdapterW2B))
	d = Mul(d, ConvertDType(get(varname.AdapterScale), d.DType()))
	for i, c := range chunks {
		part := d
		if c[0] != 0 || c[1] != d.Shape().Dim(-1) {
			part = SliceAxis(d, d.Rank()-1, AxisRange(c[0], c[1]))
		}
		ys[i] = Add(ys[i], part)
	}
}

// padRows places up [rows, rank] at rows [offset, offset+rows) of a zero
// matrix [out, rank] (up itself when it fills all out rows).
func padRows(up *Node, offset, out int) *Node {
	rows, rank := up.Shape().Dim(0), up.Shape().Dim(1)
	if offset == 0 && rows == out {
		return up
	}
	var parts []*Node
	if offset > 0 {
		parts = append(parts, Zeros(up.Graph(), shapes.Make(up.DType(), offset, rank)))
	}
	parts = append(parts, up)
	if after := out - offset - rows; after > 0 {
		parts = append(parts, Zeros(up.Graph(), shapes.Make(up.DType(), after, rank)))
	}
	return Concatenate(parts, 0)
}
