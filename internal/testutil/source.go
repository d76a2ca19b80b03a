package testutil

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// MapSource is an in-memory tensor source for model loaders' tests (the
// TensorSource interfaces of model/flux2 and model/vae). It converts
// nothing: ReadAs fails unless dtype is the stored one or InvalidDType.
type MapSource map[string]*tensors.Tensor

// Names lists the tensor names, sorted.
func (m MapSource) Names() []string { return slices.Sorted(maps.Keys(m)) }

// Dims returns a tensor's dimensions.
func (m MapSource) Dims(name string) ([]int, bool) {
	t, ok := m[name]
	if !ok {
		return nil, false
	}
	return t.Shape().Dimensions, true
}

// Tensor returns a copy of a tensor in its stored dtype.
func (m MapSource) Tensor(name string) (*tensors.Tensor, error) {
	return m.ReadAs(name, dtypes.InvalidDType)
}

// ReadAs returns a copy of a tensor; dtype must be its own or InvalidDType.
func (m MapSource) ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	if dtype != dtypes.InvalidDType && dtype != t.DType() {
		return nil, fmt.Errorf("MapSource converts nothing")
	}
	return t.LocalClone()
}
