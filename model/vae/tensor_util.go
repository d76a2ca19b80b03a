package vae

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/weights"
)

// convertTensor converts between float32 and bfloat16 on the host,
// rounding to nearest even (GoMLX's bfloat16.FromFloat32 truncates).
func convertTensor(t *tensors.Tensor, dtype dtypes.DType) (*tensors.Tensor, error) {
	dims := t.Shape().Dimensions
	switch {
	case t.DType() == dtype:
		return t, nil
	case t.DType() == dtypes.Float32 && dtype == dtypes.BFloat16:
		src, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		out := make([]bfloat16.BFloat16, len(src))
		for i, f := range src {
			out[i] = bfloat16RNE(f)
		}
		return tensors.FromFlatDataAndDimensions(out, dims...), nil
	case t.DType() == dtypes.BFloat16 && dtype == dtypes.Float32:
		src, err := tensors.CopyFlatData[bfloat16.BFloat16](t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(src))
		for i, b := range src {
			out[i] = b.Float32()
		}
		return tensors.FromFlatDataAndDimensions(out, dims...), nil
	}
	return nil, fmt.Errorf("cannot convert %s to %s (the tensor source should read it as %s)", t.DType(), dtype, dtype)
}

// bfloat16RNE rounds a float32 to the nearest bfloat16, ties to even
// (weights.Float32ToBF16).
func bfloat16RNE(f float32) bfloat16.BFloat16 { return bfloat16.FromBits(weights.Float32ToBF16(f)) }

// reshapeTensor returns a copy of t with new dimensions (same element count).
func reshapeTensor(t *tensors.Tensor, dims ...int) (*tensors.Tensor, error) {
	if shapes.Make(t.DType(), dims...).Size() != t.Shape().Size() {
		return nil, fmt.Errorf("cannot reshape %v to %v", t.Shape().Dimensions, dims)
	}
	out := tensors.FromShape(shapes.Make(t.DType(), dims...))
	var err error
	if merr := out.MutableBytes(func(dst []byte) {
		err = t.ConstBytes(func(src []byte) { copy(dst, src) })
	}); merr != nil {
		return nil, merr
	}
	return out, err
}
