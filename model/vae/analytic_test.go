package vae

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestAnalyticRoundTrip: decode(encode(x)) reproduces an image that is
// constant over the latent's pixel blocks (what survives the averaging).
func TestAnalyticRoundTrip(t *testing.T) {
	cfg := OfficialTinyConfig()
	cfg.Groups = 1
	cfg.ChMult = []int{1, 1, 2}
	v, err := NewAnalytic(testutil.Backend(t), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const h, w, block = 32, 48, 4 // two downsamplings: 4×4 pixels per latent position
	px := make([]float32, 3*h*w)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				px[(c*h+y)*w+x] = float32(math.Sin(float64(c+1) * float64(y/block+2*(x/block)) * 0.7))
			}
		}
	}
	lat, err := v.Encode(tensors.FromFlatDataAndDimensions(px, 1, 3, h, w))
	if err != nil {
		t.Fatal(err)
	}
	out, err := v.Decode(lat)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out)
	var worst float64
	for i := range px {
		worst = math.Max(worst, math.Abs(float64(got[i]-px[i])))
	}
	t.Logf("max abs reconstruction error %.2g", worst)
	if worst > 2e-3 {
		t.Errorf("reconstruction error %.3g > 2e-3", worst)
	}
}
