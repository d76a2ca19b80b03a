package train

import (
	"math/rand/v2"

	"github.com/flora-ml/flora/model/flux2"
)

// noisedTokens writes one batch element's flow-matching input and target
// in the transformer's token layout [H·W, C] (flux2.PackTokens) into xt and
// target (each at least H·W·C long): x_t = (1−t)·x0 + t·ε and ε − x0, for
// the latent x0 [C, H, W] and noise ε drawn from rng in latent order
// (channel-major, then token), computed in float64 per element.
func noisedTokens(xt, target, x0 []float32, c, h, w int, t float64, rng *rand.Rand) {
	size := c * h * w
	noised := make([]float32, size)
	diff := make([]float32, size)
	for i, x := range x0[:size] {
		eps := float32(rng.NormFloat64())
		noised[i] = float32((1-t)*float64(x) + t*float64(eps))
		diff[i] = eps - x
	}
	flux2.PackTokensInto(xt, noised, c, h, w)
	flux2.PackTokensInto(target, diff, c, h, w)
}
