package train

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// 8-bit optimizer state. Each moment tensor is flattened, zero-padded to a
// multiple of momentBlock and quantized per block of 64 values against the
// block's absolute maximum (kept as a float32 scale). The codes use
// non-linear maps so small values survive next to large ones in a block:
//
//   - first moment m (signed): code = round(127·sign(m)·√(|m|/max)),
//     m = max·sign(code)·(code/127)²; smallest non-zero 6e-5·max, steps ≈1.6%
//     near the top.
//   - second moment v (≥ 0): code = round(255·(v/max)^(1/4)),
//     v = max·(code/255)⁴; smallest non-zero 2.3e-10·max. Because v ∝ g²
//     and m ∝ g, an element whose v rounds to zero has |m| below m's own
//     zero threshold, so the update never divides a non-zero m by ε alone.
//
// This is 2 bytes of state per parameter (plus 1/16 for scales) instead of 8.

// quantizeMoment quantizes x (any shape) to [blocks, 64] codes (Int8 for the
// signed first moment, Uint8 for the second) and [blocks] scales.
func quantizeMoment(x *Node, signed bool) (codes, scales *Node) {
	blocks := blockify(x)
	absMax := ReduceMax(Abs(blocks), -1) // [nb]
	safe := Max(absMax, Scalar(x.Graph(), dtypes.Float32, 1e-30))
	ratio := Div(Abs(blocks), InsertAxes(safe, -1)) // [nb, 64] in [0, 1]
	if signed {
		c := Round(MulScalar(Sqrt(ratio), 127))
		c = Mul(c, Sign(blocks))
		return ConvertDType(c, dtypes.Int8), absMax
	}
	c := Round(MulScalar(Sqrt(Sqrt(ratio)), 255))
	return ConvertDType(c, dtypes.Uint8), absMax
}

// dequantizeMoment inverts quantizeMoment to a float32 tensor of dims.
func dequantizeMoment(codes, scales *Node, dims []int, signed bool) *Node {
	c := ConvertDType(codes, dtypes.Float32)
	var r *Node
	if signed {
		u := DivScalar(c, 127)
		r = Mul(Square(u), Sign(u))
	} else {
		u := DivScalar(c, 255)
		r = Square(Square(u))
	}
	x := Mul(r, InsertAxes(scales, -1))
	return unblockify(x, dims)
}

// blockify flattens x and reshapes it to [nb, 64], zero-padding the tail.
func blockify(x *Node) *Node {
	n := x.Shape().Size()
	flat := Reshape(x, n)
	nb := (n + momentBlock - 1) / momentBlock
	if pad := nb*momentBlock - n; pad > 0 {
		flat = Concatenate([]*Node{flat, Zeros(x.Graph(), shapes.Make(flat.DType(), pad))}, 0)
	}
	return Reshape(flat, nb, momentBlock)
}

// unblockify drops the padding and restores dims.
func unblockify(x *Node, dims []int) *Node {
	n := 1
	for _, d := range dims {
		n *= d
	}
	flat := Reshape(x, x.Shape().Size())
	if flat.Shape().Size() != n {
		flat = Slice(flat, AxisRange(0, n))
	}
	return Reshape(flat, dims...)
}
