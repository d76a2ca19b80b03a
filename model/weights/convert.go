package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// chunkElems is the number of elements converted per step through a small
// float32 staging buffer (narrowing conversions go float → float32 → target).
const chunkElems = 4096

// parallelMinElems is the tensor size from which conversions use all cores.
const parallelMinElems = 1 << 18

// toTensor copies the raw data src of the tensor described by info into a new
// GoMLX tensor of dtype target, converting element by element.
func toTensor(info TensorInfo, src []byte, target dtypes.DType) (*tensors.Tensor, error) {
	if int64(len(src)) != info.NumBytes() {
		return nil, fmt.Errorf("tensor %q: got %d bytes, want %d", info.Name, len(src), info.NumBytes())
	}
	native := info.DType.GoMLX()
	switch target {
	case native, dtypes.Float32, dtypes.Float64, dtypes.BFloat16, dtypes.Float16:
	default:
		return nil, fmt.Errorf("tensor %q is stored as %s; it converts to float32, float64, bfloat16, float16 or %s, not %s",
			info.Name, info.DType, native, target)
	}
	t := tensors.FromShape(shapes.Make(target, info.Shape...))
	if t.Size() == 0 {
		return t, nil
	}
	// src may be a memory mapping: every read of it goes through catchFault
	// (parallelRange does that on each of its goroutines).
	var err, fault error
	switch {
	case target == dtypes.Bool:
		err = tensors.MutableFlatData(t, func(flat []bool) {
			fault = catchFault(func() {
				for i, b := range src {
					flat[i] = b != 0
				}
			})
		})
	case target == native:
		err = t.MutableBytes(func(dst []byte) { fault = catchFault(func() { copy(dst, src) }) })
	case target == dtypes.Float32:
		err = tensors.MutableFlatData(t, func(flat []float32) {
			sz := info.DType.Size()
			fault = parallelRange(len(flat), func(lo, hi int) {
				decodeFloat32s(flat[lo:hi], src[lo*sz:hi*sz], info.DType)
			})
		})
	case target == dtypes.Float64:
		err = tensors.MutableFlatData(t, func(flat []float64) {
			sz := info.DType.Size()
			fault = parallelRange(len(flat), func(lo, hi int) {
				decodeFloat64s(flat[lo:hi], src[lo*sz:hi*sz], info.DType)
			})
		})
	default: // BFloat16 or Float16 from another dtype
		enc := BF16
		if target == dtypes.Float16 {
			enc = F16
		}
		err = t.MutableBytes(func(dst []byte) {
			sz := info.DType.Size()
			fault = parallelRange(len(dst)/2, func(lo, hi int) {
				var buf [chunkElems]float32
				for c := lo; c < hi; c += chunkElems {
					e := min(c+chunkElems, hi)
					tmp := buf[:e-c]
					decodeFloat32s(tmp, src[c*sz:e*sz], info.DType)
					encodeFloat32s(dst[2*c:2*e], tmp, enc)
				}
			})
		})
	}
	if err == nil {
		err = fault
	}
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", info.Name, err)
	}
	return t, nil
}

// parallelRange calls fn on disjoint ranges covering [0, n), concurrently
// when n is large, each call under catchFault; it returns the first fault.
func parallelRange(n int, fn func(lo, hi int)) error {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMinElems || workers < 2 {
		return catchFault(func() { fn(0, n) })
	}
	step := (n + workers - 1) / workers
	step = (step + chunkElems - 1) / chunkElems * chunkElems
	errs := make([]error, (n+step-1)/step)
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[lo/step] = catchFault(func() { fn(lo, hi) })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeFloat32s converts len(dst) elements of dtype dt from src to float32.
// Integers and float64 round to nearest float32; bools become 0 or 1.
func decodeFloat32s(dst []float32, src []byte, dt DType) {
	if decode64Bit(dst, src, dt) {
		return
	}
	le := binary.LittleEndian
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToFloat32(le.Uint16(src[2*i:]))
		}
	case F8E4M3, F8E5M2:
		var table [256]float32
		decode := F8E4M3ToFloat32
		if dt == F8E5M2 {
			decode = F8E5M2ToFloat32
		}
		for c := range table {
			table[c] = decode(uint8(c))
		}
		for i := range dst {
			dst[i] = table[src[i]]
		}
	case I32:
		for i := range dst {
			dst[i] = float32(int32(le.Uint32(src[4*i:])))
		}
	case I16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(src[2*i:])))
		}
	case I8:
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	case U32:
		for i := range dst {
			dst[i] = float32(le.Uint32(src[4*i:]))
		}
	case U16:
		for i := range dst {
			dst[i] = float32(le.Uint16(src[2*i:]))
		}
	case U8:
		for i := range dst {
			dst[i] = float32(src[i])
		}
	case Bool:
		for i := range dst {
			dst[i] = 0
			if src[i] != 0 {
				dst[i] = 1
			}
		}
	}
}

// decodeFloat64s converts len(dst) elements of dtype dt from src to float64:
// exactly for floats and for integers up to 2⁵³ in magnitude.
func decodeFloat64s(dst []float64, src []byte, dt DType) {
	if decode64Bit(dst, src, dt) {
		return
	}
	// Every other dtype is exact in float32.
	var buf [chunkElems]float32
	sz := dt.Size()
	for c := 0; c < len(dst); c += chunkElems {
		e := min(c+chunkElems, len(dst))
		tmp := buf[:e-c]
		decodeFloat32s(tmp, src[c*sz:e*sz], dt)
		for i, v := range tmp {
			dst[c+i] = float64(v)
		}
	}
}

// decode64Bit converts len(dst) elements of a 64-bit dtype (F64, I64, U64)
// from src to T, rounding to nearest, and reports whether dt was one.
func decode64Bit[T float32 | float64](dst []T, src []byte, dt DType) bool {
	le := binary.LittleEndian
	switch dt {
	case F64:
		for i := range dst {
			dst[i] = T(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case I64:
		for i := range dst {
			dst[i] = T(int64(le.Uint64(src[8*i:])))
		}
	case U64:
		for i := range dst {
			dst[i] = T(le.Uint64(src[8*i:]))
		}
	default:
		return false
	}
	return true
}

// encodeFloat32s writes src as float dtype dt into dst (len(src)·dt.Size()
// bytes), rounding to nearest with ties to even (float8 saturates).
func encodeFloat32s(dst []byte, src []float32, dt DType) {
	le := binary.LittleEndian
	switch dt {
	case F32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F64:
		for i, v := range src {
			le.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
	case BF16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], Float32ToBF16(v))
		}
	case F16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], Float32ToF16(v))
		}
	case F8E4M3:
		for i, v := range src {
			dst[i] = Float32ToF8E4M3(v)
		}
	case F8E5M2:
		for i, v := range src {
			dst[i] = Float32ToF8E5M2(v)
		}
	}
}

// DecodeFloat32 converts the raw data of a tensor described by info (from
// File.Bytes) to float32 on the host; a fault reading a mapping whose file
// changed is an error wrapping ErrFileChanged. Floats convert exactly except float64
// (rounded); integers round to nearest; bools become 0 or 1.
func DecodeFloat32(info TensorInfo, data []byte) ([]float32, error) {
	if !info.DType.Known() {
		return nil, fmt.Errorf("tensor %q: unknown dtype %q", info.Name, info.DType)
	}
	want, ok := byteSize(info.DType, info.Shape)
	if !ok || want != int64(len(data)) {
		return nil, fmt.Errorf("tensor %q: %d bytes do not hold shape %v of %s", info.Name, len(data), info.Shape, info.DType)
	}
	out := make([]float32, len(data)/info.DType.Size())
	if err := catchFault(func() { decodeFloat32s(out, data, info.DType) }); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", info.Name, err)
	}
	return out, nil
}

// EncodeFloat32 converts values to the raw little-endian data of float dtype
// dt (F64, F32, F16, BF16, F8_E4M3, F8_E5M2), rounding to nearest with ties
// to even; float8 saturates at its largest finite value.
func EncodeFloat32(dt DType, values []float32) ([]byte, error) {
	if !dt.IsFloat() {
		return nil, fmt.Errorf("cannot encode float32 values as %q: not a float dtype", dt)
	}
	out := make([]byte, len(values)*dt.Size())
	encodeFloat32s(out, values, dt)
	return out, nil
}
