// Package sample is Flora's bundled FLUX.2 sampler: the official timestep
// schedule, Euler steps over the flow, distilled guidance and classifier-free
// guidance, and the decoding of latents to images.
package sample

import (
	"fmt"
	"math"
)

// Constants of the empirical shift fit of the official FLUX.2 sampler: mu as a
// linear function of the image sequence length for 10 and 200 steps.
const (
	muA1 = 8.73809524e-05
	muB1 = 1.89833333
	muA2 = 0.00016927
	muB2 = 0.45666666
)

// EmpiricalMu is the shift parameter mu of the official schedule for an
// image of imageSeqLen latent tokens sampled in numSteps steps: above 4300
// tokens the 200-step fit, otherwise a linear interpolation (or
// extrapolation) in the step count between the 10- and 200-step fits.
func EmpiricalMu(imageSeqLen, numSteps int) float64 {
	l := float64(imageSeqLen)
	if imageSeqLen > 4300 {
		return muA2*l + muB2
	}
	m200 := muA2*l + muB2
	m10 := muA1*l + muB1
	a := (m200 - m10) / 190
	b := m200 - 200*a
	return a*float64(numSteps) + b
}

// TimeShift is the generalised time-SNR shift with sigma 1:
// t' = e^mu / (e^mu + (1/t − 1)); it maps 0 → 0 and 1 → 1.
func TimeShift(mu, t float64) float64 {
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	e := math.Exp(mu)
	return e / (e + (1/t - 1))
}

// Schedule returns the official FLUX.2 timestep schedule: numSteps+1 flow
// times from 1 down to 0, the uniform grid shifted by EmpiricalMu.
func Schedule(numSteps, imageSeqLen int) ([]float64, error) {
	if numSteps < 1 {
		return nil, fmt.Errorf("sampling steps must be >= 1, got %d", numSteps)
	}
	if imageSeqLen < 1 {
		return nil, fmt.Errorf("image sequence length must be >= 1, got %d", imageSeqLen)
	}
	mu := EmpiricalMu(imageSeqLen, numSteps)
	ts := make([]float64, numSteps+1)
	for i := range ts {
		ts[i] = TimeShift(mu, 1-float64(i)/float64(numSteps))
	}
	return ts, nil
}
