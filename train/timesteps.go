// Package train is Flora's LoRA trainer: flow-matching objective, timestep
// sampling, optimizers (AdamW with fp32 or 8-bit state, Prodigy, Adafactor),
// learning-rate schedules, gradient clipping and accumulation, EMA,
// checkpoints with exact resume, previews and metrics.
package train

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// TimestepSampler draws flow times t ∈ (0, 1) for training and gives each a
// loss weight.
type TimestepSampler struct {
	// Kind is flux2_shift, uniform, logit_normal, sigmoid or weighted.
	Kind string
	// LogitMean, LogitStd parametrise logit_normal.
	LogitMean, LogitStd float64
	// SigmoidScale parametrises sigmoid and flux2_shift (t = sigmoid(scale·n)).
	SigmoidScale float64
	// LossWeighting is none, sigma_sqrt or cosmap (SD3-style weights).
	LossWeighting string
}

// tMin keeps sampled times away from 0, where the target is pure data and
// the loss carries no signal (diffusers' 1000-step table starts at 0.001).
const tMin = 1e-3

// Sample returns a time for an image of imageSeqLen latent tokens and its
// loss weight. The draws come from rng only, so a saved rng state replays
// the exact sequence.
func (s TimestepSampler) Sample(rng *rand.Rand, imageSeqLen int) (t, weight float64, err error) {
	switch s.Kind {
	case "uniform":
		t = rng.Float64()
	case "logit_normal":
		t = sigmoid(s.LogitMean + s.LogitStd*rng.NormFloat64())
	case "sigmoid":
		t = sigmoid(s.SigmoidScale * rng.NormFloat64())
	case "flux2_shift":
		t = sigmoid(s.SigmoidScale * rng.NormFloat64())
		t = shift(Flux2ShiftMu(imageSeqLen), t)
	case "weighted":
		// ai-toolkit's "weighted": t uniform on a 1000-step grid, with a
		// bell-shaped loss weight emphasising the high-noise middle.
		t = float64(1+rng.IntN(1000)) / 1000
	default:
		return 0, 0, fmt.Errorf("unknown timestep sampling %q", s.Kind)
	}
	t = math.Min(math.Max(t, tMin), 1)
	weight, err = s.lossWeight(t)
	return t, weight, err
}

// Flux2ShiftMu is the resolution-dependent shift mu of musubi-tuner's
// flux2_shift: linear in the image sequence length from 0.5 at 256 tokens
// to 1.15 at 4096 tokens (1024² → shift e^1.15 ≈ 3.16).
func Flux2ShiftMu(imageSeqLen int) float64 {
	const x1, y1, x2, y2 = 256, 0.5, 4096, 1.15
	m := (y2 - y1) / (x2 - x1)
	return y1 + m*(float64(imageSeqLen)-x1)
}

// shift applies the time shift with factor e^mu: e^mu·t / (1 + (e^mu − 1)·t).
func shift(mu, t float64) float64 {
	s := math.Exp(mu)
	return s * t / (1 + (s-1)*t)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// lossWeight returns the weight of a sample at time t.
func (s TimestepSampler) lossWeight(t float64) (float64, error) {
	w := 1.0
	switch s.LossWeighting {
	case "", "none":
	case "sigma_sqrt":
		w = 1 / (t * t)
	case "cosmap":
		w = 2 / (math.Pi * (1 - 2*t + 2*t*t))
	default:
		return 0, fmt.Errorf("unknown loss weighting %q", s.LossWeighting)
	}
	if s.Kind == "weighted" {
		w *= weightedBell(t)
	}
	return w, nil
}

// weightedBell is the bell-shaped per-timestep weight of the "weighted"
// sampler: a Gaussian bump on a floor, peaking at t ≈ 0.88 and normalised to
// mean 1 over (0, 1], so the loss scale matches uniform sampling. Its shape
// follows ai-toolkit's published curve (peak ≈1.5 near t 0.88, ≈0.7 at t 0.2,
// ≈0.45 towards t 0).
func weightedBell(t float64) float64 {
	raw := func(t float64) float64 {
		d := (t - 0.88) / 0.3
		return 0.4 + 1.15*math.Exp(-0.5*d*d)
	}
	return raw(t) / weightedBellMean
}

// weightedBellMean is the mean of the raw bell over the 1000-step grid.
var weightedBellMean = func() float64 {
	var s float64
	for i := 1; i <= 1000; i++ {
		d := (float64(i)/1000 - 0.88) / 0.3
		s += 0.4 + 1.15*math.Exp(-0.5*d*d)
	}
	return s / 1000
}()
