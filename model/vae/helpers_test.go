package vae

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// mapSource is an in-memory TensorSource for tests.
type mapSource map[string]*tensors.Tensor

func (m mapSource) Names() []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (m mapSource) Dims(name string) ([]int, bool) {
	t, ok := m[name]
	if !ok {
		return nil, false
	}
	return t.Shape().Dimensions, true
}

func (m mapSource) ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	if dtype != dtypes.InvalidDType && dtype != t.DType() {
		return nil, fmt.Errorf("mapSource converts nothing")
	}
	return t.LocalClone()
}

// relL2 is ‖got − want‖ / ‖want‖.
func relL2(t testing.TB, got, want *tensors.Tensor) float64 {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
	}
	g := tensors.MustCopyFlatData[float32](got)
	w := tensors.MustCopyFlatData[float32](want)
	var num, den float64
	for i := range g {
		d := float64(g[i]) - float64(w[i])
		num += d * d
		den += float64(w[i]) * float64(w[i])
	}
	return math.Sqrt(num / den)
}
