package textenc

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/weights/weightstest"
)

// fixtureSource is a mapSource over the float tensors of a model folder
// under fixtureDir.
func fixtureSource(tb testing.TB, folder string) *mapSource {
	tb.Helper()
	return &mapSource{tensors: weightstest.ReadF32(tb, filepath.Join(fixtureDir, folder))}
}

// mapSource is a TensorSource over float32 host tensors that records reads.
type mapSource struct {
	tensors map[string]*tensors.Tensor
	reads   []string
}

func (s *mapSource) Names() []string { return slices.Sorted(maps.Keys(s.tensors)) }

func (s *mapSource) Dims(name string) ([]int, bool) {
	t, ok := s.tensors[name]
	if !ok {
		return nil, false
	}
	return t.Shape().Dimensions, true
}

// ReadAs converts with round-to-nearest-even for bfloat16.
func (s *mapSource) ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, ok := s.tensors[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	s.reads = append(s.reads, name)
	vals := tensors.MustCopyFlatData[float32](t)
	switch dtype {
	case dtypes.Float32:
		return tensors.FromFlatDataAndDimensions(vals, t.Shape().Dimensions...), nil
	case dtypes.BFloat16:
		bf := make([]bfloat16.BFloat16, len(vals))
		for i, v := range vals {
			bits := math.Float32bits(v)
			bits += 0x7fff + (bits>>16)&1
			bf[i] = bfloat16.BFloat16(bits >> 16)
		}
		return tensors.FromFlatDataAndDimensions(bf, t.Shape().Dimensions...), nil
	}
	return nil, fmt.Errorf("dtype %s not supported by the test source", dtype)
}
