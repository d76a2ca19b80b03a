package vae

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/weights"
)

// readF32Safetensors reads every float tensor of a safetensors file as float32.
func readF32Safetensors(t *testing.T, path string) map[string]*tensors.Tensor {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*tensors.Tensor{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		if !info.DType.IsFloat() {
			continue
		}
		v, err := f.TensorAs(n, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = v
	}
	return out
}
