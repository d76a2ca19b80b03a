// Package tensorrand makes random tensors for benchmarks and tests.
package tensorrand

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Normal returns a float32 tensor of the given dimensions filled with
// standard-normal values drawn from rng, in row-major order (so a seeded rng
// gives the same tensor every time).
func Normal(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}
