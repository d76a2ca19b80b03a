package textenc

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RoPETables computes the rotary tables for positions 0..length−1 on the
// host, reproducing transformers' float32 arithmetic: inv_freq[j] =
// 1/θ^(2j/hd) in float32, angle = float32(pos)·inv_freq[j] in float32, and
// its cos and sin. It returns cos, sin of shape [length, hd/2].
func (c Config) RoPETables(length int) (cos, sin *tensors.Tensor, err error) {
	if length <= 0 || length > c.MaxPositions {
		return nil, nil, fmt.Errorf("sequence length %d is outside 1..%d (the model's max positions)", length, c.MaxPositions)
	}
	half := c.HeadDim / 2
	invFreq := make([]float32, half)
	for j := range invFreq {
		exponent := float32(2*j) / float32(c.HeadDim)
		invFreq[j] = 1 / float32(math.Pow(c.RopeTheta, float64(exponent)))
	}
	cosData := make([]float32, length*half)
	sinData := make([]float32, length*half)
	for p := 0; p < length; p++ {
		for j, f := range invFreq {
			angle := float64(float32(p) * f)
			cosData[p*half+j] = float32(math.Cos(angle))
			sinData[p*half+j] = float32(math.Sin(angle))
		}
	}
	return tensors.FromFlatDataAndDimensions(cosData, length, half),
		tensors.FromFlatDataAndDimensions(sinData, length, half), nil
}

// ApplyRoPE rotates x [B, L, H, hd] with the rotate-half convention: with
// x1 = x[..., :hd/2], x2 = x[..., hd/2:] and cos, sin [L, hd/2],
// out = [x1·cos − x2·sin ; x2·cos + x1·sin]. Like transformers, the tables
// are cast to x's dtype and the arithmetic runs in x's dtype.
func ApplyRoPE(x, cos, sin *Node) *Node {
	b, l, h, hd := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	assertDims("rope cos", cos, l, hd/2)
	assertDims("rope sin", sin, l, hd/2)
	c := BroadcastToDims(Reshape(ConvertDType(cos, x.DType()), 1, l, 1, hd/2), b, l, h, hd/2)
	s := BroadcastToDims(Reshape(ConvertDType(sin, x.DType()), 1, l, 1, hd/2), b, l, h, hd/2)
	x1 := SliceAxis(x, -1, AxisRange(0, hd/2))
	x2 := SliceAxis(x, -1, AxisRange(hd/2, hd))
	out1 := Sub(Mul(x1, c), Mul(x2, s))
	out2 := Add(Mul(x2, c), Mul(x1, s))
	return Concatenate([]*Node{out1, out2}, -1)
}
