package quant

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive

	"github.com/flora-ml/flora/internal/varname"
)

// Variable names of a quantized weight "M.weight" (module M; the suffixes
// are varname.Quant*):
//
//	int8: M.weight.int8 [out, in] Int8, M.weight.scale [out] Float32
//	fp8:  M.weight.fp8 [out, in] Uint8 (e4m3fn codes), M.weight.scale [out]
//	nf4:  M.weight.nf4 [out, in/2] Uint8 (two codes per byte) and either
//	      M.weight.absmax [blocks] Float32, or double-quantized
//	      M.weight.absmax_q [blocks] Int8, M.weight.absmax_scale
//	      [blocks/256] Float32, M.weight.absmax_offset [] Float32
//
// The codes' shape gives the weight's shape statically (nf4: in = 2·cols).

// DecodeWeight is a modelgraph.Decoder (flux2.Model.Decoder, the text
// encoders' weights): it dequantizes the weight named base (e.g. "m.weight") stored
// under the variable names above, reading the parts with get (nil when a
// name is absent); it returns nil when base is not stored quantized. It
// lets any model's graph code (the text encoders too) use quantized weights.
func DecodeWeight(get func(name string) *Node, base string, dtype dtypes.DType) *Node {
	var out *Node
	if q := get(base + varname.QuantInt8); q != nil {
		out = Mul(ConvertDType(q, dtypes.Float32), InsertAxes(get(base+varname.QuantScale), -1))
	} else if codes := get(base + varname.QuantFP8); codes != nil {
		vals := lookup(Const(codes.Graph(), E4M3Table()), ConvertDType(codes, dtypes.Int32))
		out = Mul(vals, InsertAxes(get(base+varname.QuantScale), -1))
	} else if packed := get(base + varname.QuantNF4); packed != nil {
		out = decodeNF4(packed, get, base)
	} else {
		return nil
	}
	return ConvertDType(out, dtype)
}

// decodeNF4 unpacks the nibbles, looks the levels up and scales by the
// per-block absmax.
func decodeNF4(packed *Node, get func(string) *Node, base string) *Node {
	g := packed.Graph()
	rows, cols := packed.Shape().Dim(0), 2*packed.Shape().Dim(1)
	half := packed.Shape().Size()
	n := 2 * half
	c := ConvertDType(packed, dtypes.Int32)
	hi := Div(c, Scalar(g, dtypes.Int32, 16))
	lo := Sub(c, Mul(hi, Scalar(g, dtypes.Int32, 16)))
	codes := Reshape(Concatenate([]*Node{InsertAxes(hi, -1), InsertAxes(lo, -1)}, -1), n)
	vals := lookup(Const(g, NF4Table[:]), codes) // [n]
	absmax := nf4Absmax(get, base)
	nb := absmax.Shape().Size()
	var scaled *Node
	if n == nb*NF4Block {
		scaled = Reshape(Mul(Reshape(vals, nb, NF4Block), InsertAxes(absmax, -1)), n)
	} else {
		idx := Div(Iota(g, shapesInt32(n), 0), Scalar(g, dtypes.Int32, NF4Block))
		scaled = Mul(vals, lookup(absmax, idx))
	}
	return Reshape(scaled, rows, cols)
}

// nf4Absmax returns the per-block scales, undoing double quantization.
func nf4Absmax(get func(string) *Node, base string) *Node {
	if a := get(base + varname.QuantAbsmax); a != nil {
		return a
	}
	codes := get(base + varname.QuantAbsmaxQ)
	g := codes.Graph()
	nb := codes.Shape().Size()
	idx := Div(Iota(g, shapesInt32(nb), 0), Scalar(g, dtypes.Int32, DoubleQuantBlock))
	scale := lookup(get(base+varname.QuantAbsmaxScale), idx)
	return Add(Mul(ConvertDType(codes, dtypes.Float32), scale), get(base+varname.QuantAbsmaxOffset))
}

// lookup returns table[idx] elementwise: table [k], idx int32 of any shape →
// idx's shape. (Gather needs the table as [k, 1] slices of size 1.)
func lookup(table, idx *Node) *Node {
	k := table.Shape().Dim(0)
	out := Gather(Reshape(table, k, 1), InsertAxes(idx, -1))
	return Reshape(out, idx.Shape().Dimensions...)
}
