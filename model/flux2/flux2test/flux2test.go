// Package flux2test runs FLUX.2 transformers on the io fixtures of tests
// (as weightstest reads checkpoints). It is apart from the tests of
// model/flux2 because it imports model/flux2.
package flux2test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// Load loads the transformer at path in float32 on the backend under test.
func Load(tb testing.TB, path string) *flux2.Model {
	tb.Helper()
	m, err := flux2.Load(testutil.Backend(tb), path, flux2.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// IOBatch reads the inputs of a transformer io fixture (img, ctx,
// timesteps, guidance, ctx_ids and img_ids) as float32 and returns them as
// a batch of m.
func IOBatch(tb testing.TB, m *flux2.Model, ioPath string) *flux2.Batch {
	tb.Helper()
	io := weightstest.ReadAllF32(tb, ioPath)
	b, err := m.NewBatch(io["img"], io["ctx"], io["timesteps"], io["guidance"], testutil.PositionIDs(io["ctx_ids"]), testutil.PositionIDs(io["img_ids"]))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Forward runs m on b in float32 and returns the output's values.
func Forward(tb testing.TB, m *flux2.Model, b *flux2.Batch) []float32 {
	tb.Helper()
	out, err := m.Forward(b, dtypes.Float32)
	if err != nil {
		tb.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out)
}
