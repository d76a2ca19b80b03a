package quant

import (
	"fmt"
	"math"
	"runtime/debug"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/varname"
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
		if len(w) >= bigTensor {
			// The float copies of this weight are garbage now. Collecting
			// them before the next weight is read keeps peak host memory
			// at the quantized model plus one weight; left to the GC's
			// pacing (heap may grow to 2x the live size) a 32B model's
			// garbage alone would exceed a 24 GB machine.
			w = nil
			debug.FreeOSMemory()
		}
		return nil
	}
}

// bigTensor is the size (in values) from which Store returns a weight's
// float copies to the OS right after quantizing it.
const bigTensor = 16 << 20

// StoreQuantized quantizes the float32 weight w [rows, cols] with the
// scheme of opts into the model's variables and marks it stored.
func StoreQuantized(m *flux2.Model, official string, w []float32, rows, cols int, opts Options) error {
	parts, err := QuantizeParts(official, w, rows, cols, opts)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := m.SetVariable(p.Name, p.Value, false); err != nil {
			return fmt.Errorf("quantizing %s: %w", official, err)
		}
	}
	m.MarkStored(official)
	m.Decoder = DecodeWeight
	return nil
}

// Part is one stored tensor of a quantized weight.
type Part struct {
	Name  string
	Value *tensors.Tensor
}

// QuantizeParts quantizes the float32 weight `name` (w, [rows, cols]) with
// the scheme of opts into the tensors DecodeWeight reads back, named
// name+varname.QuantInt8, name+varname.QuantScale, etc. (see the list in
// graph.go).
func QuantizeParts(name string, w []float32, rows, cols int, opts Options) ([]Part, error) {
	if len(w) != rows*cols {
		return nil, fmt.Errorf("quantizing %s: %d values for [%d, %d]", name, len(w), rows, cols)
	}
	part := func(suffix string, t *tensors.Tensor) Part { return Part{Name: name + suffix, Value: t} }
	switch opts.Scheme {
	case Int8:
		q, scale := QuantizeInt8(w, rows, cols)
		return []Part{part(varname.QuantInt8, tensors.FromFlatDataAndDimensions(q, rows, cols)),
			part(varname.QuantScale, tensors.FromFlatDataAndDimensions(scale, rows))}, nil
	case FP8:
		codes, scale := QuantizeFP8(w, rows, cols)
		return []Part{part(varname.QuantFP8, tensors.FromFlatDataAndDimensions(codes, rows, cols)),
			part(varname.QuantScale, tensors.FromFlatDataAndDimensions(scale, rows))}, nil
	case NF4:
		if cols%2 != 0 {
			return nil, fmt.Errorf("quantizing %s: nf4 needs an even number of columns, got %d", name, cols)
		}
		packed, absmax, err := QuantizeNF4(w)
		if err != nil {
			return nil, fmt.Errorf("quantizing %s: %w", name, err)
		}
		out := []Part{part(varname.QuantNF4, tensors.FromFlatDataAndDimensions(packed, rows, cols/2))}
		if opts.DoubleQuant {
			codes, scales, offset := QuantizeAbsmax(absmax)
			return append(out, part(varname.QuantAbsmaxQ, tensors.FromFlatDataAndDimensions(codes, len(codes))),
				part(varname.QuantAbsmaxScale, tensors.FromFlatDataAndDimensions(scales, len(scales))),
				part(varname.QuantAbsmaxOffset, tensors.FromScalar(offset))), nil
		}
		return append(out, part(varname.QuantAbsmax, tensors.FromFlatDataAndDimensions(absmax, len(absmax)))), nil
	}
	return nil, fmt.Errorf("quantizing %s: scheme %q stores nothing", name, opts.Scheme)
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
