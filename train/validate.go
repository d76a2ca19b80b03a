package train

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
)

// DefaultValidationTimes are the flow times validation loss is measured at:
// fixed, so numbers from different runs and adapters are comparable.
var DefaultValidationTimes = []float64{0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95}

// ValidationLoss is the flow-matching loss of the model (with whatever
// adapters are attached) on samples, at fixed times and with fixed noise
// (seeded per sample and time), so it is reproducible and comparable across
// runs, adapters and ranks. It returns the mean loss per time and overall.
// A sample with a loss mask (Sample.Mask) is scored as training scores it,
// the mask-weighted mean Σ m·e / Σ m of its tokens' squared errors
// (flux2.MaskedFlowMatchingLoss): validation measures what training
// optimises, and the masks are the dataset's, the same in every run.
func ValidationLoss(m *flux2.Model, samples []Sample, times []float64, seed uint64, guidance float64, dtype dtypes.DType) (perTime []float64, mean float64, err error) {
	if len(samples) == 0 || len(times) == 0 {
		return nil, 0, fmt.Errorf("validation needs samples and times")
	}
	cfg := m.Config
	perTime = make([]float64, len(times))
	for si, s := range samples {
		if s.C != cfg.InChannels || s.D != cfg.ContextDim {
			return nil, 0, fmt.Errorf("sample %s does not fit the model (%d channels, %d-wide context)", s.Key, s.C, s.D)
		}
		b, n, c := len(times), s.H*s.W, s.C
		refs, err := referencesOf(slices.Repeat([]Sample{s}, b))
		if err != nil {
			return nil, 0, err
		}
		nr := n + refs.len()
		xt := make([]float32, b*nr*c)
		target := make([]float32, b*n*c)
		ctx := make([]float32, 0, b*s.L*s.D)
		ts := make([]float32, b)
		for ti, t := range times {
			rng := rand.New(rand.NewPCG(seed, uint64(si)<<16|uint64(ti)))
			ts[ti] = float32(t)
			noisedTokens(xt[ti*nr*c:], target[ti*n*c:], s.Latent, c, s.H, s.W, t, rng)
			refs.appendTo(xt, ti, n, c)
			ctx = append(ctx, s.Embedding...)
		}
		var g *tensors.Tensor
		if cfg.GuidanceEmbed {
			gs := make([]float32, b)
			for i := range gs {
				gs[i] = float32(guidance)
			}
			g = tensors.FromFlatDataAndDimensions(gs, b)
		}
		batch, err := m.NewBatch(tensors.FromFlatDataAndDimensions(xt, b, nr, c), tensors.FromFlatDataAndDimensions(ctx, b, s.L, s.D),
			tensors.FromFlatDataAndDimensions(ts, b), g, flux2.TextIDs(b, s.L), refs.imageIDs(b, s.H, s.W))
		if err != nil {
			return nil, 0, err
		}
		out, err := m.Forward(batch, dtype)
		if err != nil {
			return nil, 0, err
		}
		pred, err := tensors.CopyFlatData[float32](out)
		if err != nil {
			return nil, 0, err
		}
		if s.Mask != nil && len(s.Mask) != n {
			return nil, 0, fmt.Errorf("sample %s: loss mask of %d token weights for %d tokens", s.Key, len(s.Mask), n)
		}
		for ti := range times {
			perTime[ti] += sampleError(pred[ti*nr*c:], target[ti*n*c:], n, c, s.Mask) / float64(len(samples))
		}
	}
	for _, v := range perTime {
		mean += v / float64(len(times))
	}
	return perTime, mean, nil
}

// sampleError is the mean squared error of the first n tokens of c
// channels of pred against target, or with mask the mask-weighted mean of
// the tokens' mean squared errors (0 when the mask sums to 0).
func sampleError(pred, target []float32, n, c int, mask []float32) float64 {
	if mask == nil {
		var sq float64
		for j := range n * c { // the target tokens; references follow
			d := float64(pred[j]) - float64(target[j])
			sq += d * d
		}
		return sq / float64(n*c)
	}
	var sum, wsum float64
	for tok := range n {
		var e float64
		for j := tok * c; j < (tok+1)*c; j++ {
			d := float64(pred[j]) - float64(target[j])
			e += d * d
		}
		sum += float64(mask[tok]) * e / float64(c)
		wsum += float64(mask[tok])
	}
	if wsum <= 0 {
		return 0
	}
	return sum / wsum
}
