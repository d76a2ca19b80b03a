package tensorload

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Source is a set of named tensors read one at a time (a safetensors
// checkpoint: model/weights implements it). Reading converts to the asked
// dtype while copying, so loading never holds two copies of the model.
type Source interface {
	// Names lists the tensor names.
	Names() []string
	// Dims returns a tensor's dimensions.
	Dims(name string) ([]int, bool)
	// ReadAs reads a tensor converted to dtype.
	ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error)
}
