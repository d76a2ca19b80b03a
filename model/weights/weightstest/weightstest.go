// Package weightstest reads checkpoint fixtures for tests (as httptest
// does for net/http). It is apart from internal/testutil because it imports
// model/weights, which internal packages may not.
package weightstest

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/weights"
)

// ReadF32 reads every float tensor of a checkpoint (a safetensors file, an
// index, or a Hugging Face folder) as float32; other dtypes are left out.
func ReadF32(tb testing.TB, path string) map[string]*tensors.Tensor {
	tb.Helper()
	return read(tb, path, false)
}

// ReadAllF32 reads every tensor of a checkpoint converted to float32,
// integer ones included.
func ReadAllF32(tb testing.TB, path string) map[string]*tensors.Tensor {
	tb.Helper()
	return read(tb, path, true)
}

// ReadAllF32Flat is ReadAllF32 with each tensor's values copied out flat.
func ReadAllF32Flat(tb testing.TB, path string) map[string][]float32 {
	tb.Helper()
	out := map[string][]float32{}
	for n, v := range ReadAllF32(tb, path) {
		out[n] = tensors.MustCopyFlatData[float32](v)
	}
	return out
}

func read(tb testing.TB, path string, all bool) map[string]*tensors.Tensor {
	tb.Helper()
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer ck.Close()
	out := map[string]*tensors.Tensor{}
	for _, n := range ck.Names() {
		if info, _ := ck.Info(n); !all && !info.DType.IsFloat() {
			continue
		}
		v, err := ck.TensorAs(n, dtypes.Float32)
		if err != nil {
			tb.Fatal(err)
		}
		out[n] = v
	}
	return out
}
