package vae

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

func TestNewRandomRuns(t *testing.T) {
	v, err := NewRandom(testutil.Backend(t), OfficialTinyConfig(), 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if miss := v.MissingWeights(); len(miss) > 0 {
		t.Fatalf("missing %v", miss)
	}
	px := make([]float32, 3*32*32)
	for i := range px {
		px[i] = float32(math.Sin(float64(i)))
	}
	lat, err := v.Encode(tensors.FromFlatDataAndDimensions(px, 1, 3, 32, 32))
	if err != nil {
		t.Fatal(err)
	}
	if d := lat.Shape().Dimensions; d[1] != 16 || d[2] != 8 || d[3] != 8 {
		t.Errorf("latent %v", d)
	}
	out, err := v.Decode(lat)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tensors.MustCopyFlatData[float32](out) {
		if math.IsNaN(float64(x)) {
			t.Fatal("NaN in decoded pixels")
		}
	}
}
