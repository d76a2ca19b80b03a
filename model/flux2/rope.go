package flux2

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RoPETables computes the rotary-embedding tables of FLUX.2's 4-axis RoPE on
// the host: for every token's position ids (t, h, w, l) and every pair
// k = 0..hd/2−1 of head dims (2k, 2k+1), the angle p_axis·θ^(−2j/axisDim),
// where axis owns AxesDim[axis]/2 consecutive pairs. Angles and their cos/sin
// are computed in float64 (as the reference does) and stored as float32.
//
// ids is [B][L][4] (text ids first when the sequence is joint); the result is
// cos and sin tensors of shape [B, L, hd/2].
func (c Config) RoPETables(ids [][][4]float64) (cos, sin *tensors.Tensor, err error) {
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("rotary position tables: empty batch")
	}
	numPairs := c.HeadDim() / 2
	omega := make([]float64, 0, numPairs)
	axisOf := make([]int, 0, numPairs)
	for axis, dim := range c.AxesDim {
		for j := 0; j < dim/2; j++ {
			omega = append(omega, 1/math.Pow(c.Theta, float64(2*j)/float64(dim)))
			axisOf = append(axisOf, axis)
		}
	}
	if len(omega) != numPairs {
		return nil, nil, fmt.Errorf("rotary position tables: the axes %v give %d pairs, head dim %d needs %d", c.AxesDim, len(omega), c.HeadDim(), numPairs)
	}
	b, l := len(ids), len(ids[0])
	cosData := make([]float32, b*l*numPairs)
	sinData := make([]float32, b*l*numPairs)
	for bi, seq := range ids {
		if len(seq) != l {
			return nil, nil, fmt.Errorf("rotary position tables: batch element %d has %d tokens, element 0 has %d", bi, len(seq), l)
		}
		for ti, pos := range seq {
			base := (bi*l + ti) * numPairs
			for k := range omega {
				a := pos[axisOf[k]] * omega[k]
				cosData[base+k] = float32(math.Cos(a))
				sinData[base+k] = float32(math.Sin(a))
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(cosData, b, l, numPairs),
		tensors.FromFlatDataAndDimensions(sinData, b, l, numPairs), nil
}

// ApplyRoPE rotates adjacent pairs of head dims of x [B, L, H, hd] by the
// angles whose cos/sin are given as [B, L, hd/2]:
// out[2k] = cos·x[2k] − sin·x[2k+1], out[2k+1] = sin·x[2k] + cos·x[2k+1].
// It computes in float32 and returns x's dtype. The pair rotation is a
// product with the constant matrix R = [[0, 1], [−1, 0]] instead of slicing,
// so its gradient works on every backend.
func ApplyRoPE(x, cos, sin *Node) *Node {
	b, l, h, hd := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	assertDims("rope cos", cos, b, l, hd/2)
	assertDims("rope sin", sin, b, l, hd/2)
	dtype := x.DType()
	g := x.Graph()
	xf := Reshape(ConvertDType(x, dtypes.Float32), b, l, h, hd/2, 2)
	// (x0, x1)·R = (−x1, x0).
	r := Const(g, [][]float32{{0, 1}, {-1, 0}})
	rotated := DotGeneral(xf, []int{4}, nil, r, []int{0}, nil) // [b, l, h, hd/2, 2]
	c := Reshape(ConvertDType(cos, dtypes.Float32), b, l, 1, hd/2, 1)
	s := Reshape(ConvertDType(sin, dtypes.Float32), b, l, 1, hd/2, 1)
	out := Add(Mul(xf, c), Mul(rotated, s))
	return ConvertDType(Reshape(out, b, l, h, hd), dtype)
}
