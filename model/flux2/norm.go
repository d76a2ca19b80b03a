package flux2

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// normEpsilon is the epsilon of every LayerNorm and RMSNorm in the transformer.
const normEpsilon = 1e-6

// LayerNormNoAffine normalises x [..., D] over its last axis (PyTorch
// LayerNorm with elementwise_affine=False, eps 1e-6), computing in float32
// and returning x's dtype.
func LayerNormNoAffine(x *Node) *Node {
	dtype := x.DType()
	xf := upcast(x)
	mean := ReduceAndKeep(xf, ReduceMean, -1)
	centered := Sub(xf, mean)
	variance := ReduceAndKeep(Square(centered), ReduceMean, -1)
	y := Div(centered, Sqrt(AddScalar(variance, normEpsilon)))
	return ConvertDType(y, dtype)
}

// QKNorm is the RMSNorm applied per head to queries and keys: x [..., hd]
// normalised in float32, cast back to x's dtype, then multiplied by
// scale [hd] (the reference's order of operations).
func QKNorm(x, scale *Node) *Node {
	dtype := x.DType()
	xf := upcast(x)
	meanSq := ReduceAndKeep(Square(xf), ReduceMean, -1)
	y := ConvertDType(Div(xf, Sqrt(AddScalar(meanSq, normEpsilon))), dtype)
	return Mul(y, ExpandLeftToRank(ConvertDType(scale, dtype), y.Rank()))
}

// upcast converts half-precision floats to float32 and leaves others alone.
func upcast(x *Node) *Node {
	if x.DType() == dtypes.BFloat16 || x.DType() == dtypes.Float16 {
		return ConvertDType(x, dtypes.Float32)
	}
	return x
}
