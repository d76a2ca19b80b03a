package quant

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
)

// Store returns a flux2.LoadOptions.Store function that quantizes the
// weights opts selects as they stream in (and frees the float tensor), keeps
// the others as loaded, and installs the in-graph dequantizer.
func Store(opts Options) func(m *flux2.Model, official string, t *tensors.Tensor) error {
	return func(m *flux2.Model, official string, t *tensors.Tensor) error {
		dims := t.Shape().Dimensions
		if !opts.Quantizes(official, dims) {
			return m.SetWeight(official, t)
		}
		w, err := hostFloat32(t)
		if err != nil {
			return err
		}
		t.FinalizeAll()
		if err := StoreQuantized(m, official, w, dims[0], dims[1], opts); err != nil {
			return err
		}
		return nil
	}
}

// StoreQuantized quantizes the float32 weight w [rows, cols] with the
// scheme of opts into the model's variables and marks it stored.
func StoreQuantized(m *flux2.Model, official string, w []float32, rows, cols int, opts Options) error {
	if len(w) != rows*cols {
		return fmt.Errorf("quantizing %s: %d values for [%d, %d]", official, len(w), rows, cols)
	}
	set := func(suffix string, t *tensors.Tensor) error {
		return m.SetVariable(official+"."+suffix, t, false)
	}
	var err error
	switch opts.Scheme {
	case Int8:
		q, scale := QuantizeInt8(w, rows, cols)
		if err = set("int8", tensors.FromFlatDataAndDimensions(q, rows, cols)); err == nil {
			err = set("scale", tensors.FromFlatDataAndDimensions(scale, rows))
		}
	case FP8:
		codes, scale := QuantizeFP8(w, rows, cols)
		if err = set("fp8", tensors.FromFlatDataAndDimensions(codes, rows, cols)); err == nil {
			err = set("scale", tensors.FromFlatDataAndDimensions(scale, rows))
		}
	case NF4:
		packed, absmax, qerr := QuantizeNF4(w)
		if qerr != nil {
			return fmt.Errorf("quantizing %s: %w", official, qerr)
		}
		if err = set("nf4", tensors.FromFlatDataAndDimensions(packed, rows, cols/2)); err != nil {
			break
		}
		if opts.DoubleQuant {
			codes, scales, offset := QuantizeAbsmax(absmax)
			if err = set("absmax_q", tensors.FromFlatDataAndDimensions(codes, len(codes))); err == nil {
				if err = set("absmax_scale", tensors.FromFlatDataAndDimensions(scales, len(scales))); err == nil {
					err = set("absmax_offset", tensors.FromScalar(offset))
				}
			}
		} else {
			err = set("absmax", tensors.FromFlatDataAndDimensions(absmax, len(absmax)))
		}
	default:
		return fmt.Errorf("quantizing %s: scheme %q stores nothing", official, opts.Scheme)
	}
	if err != nil {
		return fmt.Errorf("quantizing %s: %w", official, err)
	}
	m.MarkStored(official)
	m.Decoder = Decode
	return nil
}

// hostFloat32 copies a float32 or bfloat16 tensor to float32 values.
func hostFloat32(t *tensors.Tensor) ([]float32, error) {
	switch t.DType() {
	case dtypes.Float32:
		return tensors.CopyFlatData[float32](t)
	case dtypes.BFloat16:
		out := make([]float32, t.Shape().Size())
		var err error
		t.ConstBytes(func(b []byte) {
			if len(b) != 2*len(out) {
				err = fmt.Errorf("bfloat16 tensor has %d bytes for %d values", len(b), len(out))
				return
			}
			parallelFor(len(out), 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					out[i] = math.Float32frombits(uint32(b[2*i])<<16 | uint32(b[2*i+1])<<24)
				}
			})
		})
		return out, err
	}
	return nil, fmt.Errorf("cannot quantize a %s tensor (need float32 or bfloat16)", t.DType())
}
