package flux2

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RandomWeight returns deterministic random values for one weight: linear
// weights [out, in] are N(0, 1/in) (unit-variance outputs), norm scales
// 1 + N(0, 0.1²) (not exactly 1, so a missing scale is noticed). Each weight
// draws from its own generator seeded by (seed, name), so the values do not
// depend on the order weights are created in.
func RandomWeight(name string, dims []int, seed uint64) []float32 {
	n := 1
	for _, d := range dims {
		n *= d
	}
	out := make([]float32, 0, n)
	RandomWeightChunks(name, dims, seed, n, func(chunk []float32) error {
		out = append(out, chunk...)
		return nil
	})
	return out
}

// RandomWeightChunks generates the values of RandomWeight in chunks of at
// most chunk values (the same values, in order), so full-size random
// checkpoints can be written without holding a whole tensor.
func RandomWeightChunks(name string, dims []int, seed uint64, chunk int, emit func([]float32) error) error {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	rng := rand.New(rand.NewPCG(seed, h))
	n := 1
	for _, d := range dims {
		n *= d
	}
	std := 1 / math.Sqrt(float64(dims[len(dims)-1]))
	buf := make([]float32, min(chunk, n))
	for done := 0; done < n; {
		k := min(len(buf), n-done)
		for i := 0; i < k; i++ {
			if len(dims) == 1 {
				buf[i] = float32(1 + 0.1*rng.NormFloat64())
			} else {
				buf[i] = float32(rng.NormFloat64() * std)
			}
		}
		if err := emit(buf[:k]); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// NewRandomModel returns a model of the architecture with random weights
// (see RandomWeight) stored as dtype (Float32 or BFloat16): for tests,
// benchmarks and memory measurements at full size.
func NewRandomModel(backend backends.Backend, cfg Config, seed uint64, dtype dtypes.DType) (*Model, error) {
	m, err := NewModel(backend, cfg)
	if err != nil {
		return nil, err
	}
	for _, name := range cfg.ParamNames() {
		dims := cfg.ParamShapes()[name]
		vals := RandomWeight(name, dims, seed)
		t := tensors.FromFlatDataAndDimensions(vals, dims...)
		if dtype != dtypes.Float32 {
			if t, err = ConvertHost(t, dtype); err != nil {
				return nil, err
			}
		}
		if err := m.SetWeight(name, t); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ConvertHost converts a float32 host tensor to BFloat16 (round to nearest
// even) or Float32.
func ConvertHost(t *tensors.Tensor, dtype dtypes.DType) (*tensors.Tensor, error) {
	switch dtype {
	case dtypes.Float32:
		return t, nil
	case dtypes.BFloat16:
		src, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		out := tensors.FromShape(shapes.Make(dtypes.BFloat16, t.Shape().Dimensions...))
		out.MutableBytes(func(b []byte) {
			for i, v := range src {
				bits := math.Float32bits(v)
				if v != v {
					bits = 0x7fc00000
				} else {
					bits += 0x7fff + (bits>>16)&1 // round to nearest even
				}
				b[2*i], b[2*i+1] = byte(bits>>16), byte(bits>>24)
			}
		})
		return out, nil
	}
	return nil, fmt.Errorf("converting weights to %s: unsupported dtype", dtype)
}
