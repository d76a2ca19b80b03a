package textenc

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// RMSNorm normalises x [..., D] over its last axis as transformers'
// Qwen3RMSNorm / MistralRMSNorm do: in float32, x·rsqrt(mean(x²)+eps), cast
// back to x's dtype, then multiplied by weight [D] (in x's dtype).
func RMSNorm(x, weight *Node, eps float64) *Node {
	assertDims("rmsnorm weight", weight, x.Shape().Dim(-1))
	dtype := x.DType()
	xf := upcast(x)
	meanSq := ReduceAndKeep(Square(xf), ReduceMean, -1)
	y := ConvertDType(Mul(xf, Rsqrt(AddScalar(meanSq, eps))), dtype)
	return Mul(ExpandLeftToRank(ConvertDType(weight, dtype), y.Rank()), y)
}

// upcast converts half-precision floats to float32 and leaves others alone.
func upcast(x *Node) *Node {
	if x.DType() == dtypes.BFloat16 || x.DType() == dtypes.Float16 {
		return ConvertDType(x, dtypes.Float32)
	}
	return x
}
