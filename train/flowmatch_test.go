package train

import (
	"math/rand/v2"
	"testing"
)

// TestNoisedTokens checks noisedTokens against the element formula written
// in token order: token j of channel ch draws its noise as latent element
// ch·H·W + j.
func TestNoisedTokens(t *testing.T) {
	c, h, w, tt := 3, 2, 3, 0.3
	n := h * w
	x0 := make([]float32, c*n)
	for i := range x0 {
		x0[i] = float32(i) - 7.5
	}
	xt, target := make([]float32, c*n), make([]float32, c*n)
	noisedTokens(xt, target, x0, c, h, w, tt, rand.New(rand.NewPCG(1, 2)))
	rng := rand.New(rand.NewPCG(1, 2))
	for ch := 0; ch < c; ch++ {
		for tok := 0; tok < n; tok++ {
			x := x0[ch*n+tok]
			eps := float32(rng.NormFloat64())
			j := tok*c + ch
			if want := float32((1-tt)*float64(x) + tt*float64(eps)); xt[j] != want {
				t.Fatalf("x_t[%d] = %v, want %v", j, xt[j], want)
			}
			if want := eps - x; target[j] != want {
				t.Fatalf("target[%d] = %v, want %v", j, target[j], want)
			}
		}
	}
}
