package weights

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// WriteTensors writes named GoMLX tensors (in their dtypes) and metadata
// (may be nil) to a safetensors file, atomically (WriteFile).
func WriteTensors(path string, names []string, ts []*tensors.Tensor, meta map[string]string) error {
	data := make([]TensorData, len(names))
	for i, n := range names {
		if ts[i] == nil {
			return fmt.Errorf("saving %s: %s has no value", path, n)
		}
		td, err := FromTensor(n, ts[i])
		if err != nil {
			return fmt.Errorf("saving %s: %s: %w", path, n, err)
		}
		data[i] = td
	}
	return WriteFile(path, data, meta)
}

// ReadTensors reads the named tensors of a safetensors file, in their
// stored dtypes.
func ReadTensors(path string, names []string) ([]*tensors.Tensor, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]*tensors.Tensor, len(names))
	for i, n := range names {
		if out[i], err = f.Tensor(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}
