package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestTimestepSamplers(t *testing.T) {
	tests := []struct {
		s        TimestepSampler
		seq      int
		mean, sd float64 // expected moments of t (tolerance 0.01)
	}{
		{TimestepSampler{Kind: "uniform"}, 0, 0.5, math.Sqrt(1.0 / 12)},
		{TimestepSampler{Kind: "logit_normal", LogitMean: 0, LogitStd: 1}, 0, 0.5, 0.2083},
		{TimestepSampler{Kind: "sigmoid", SigmoidScale: 1}, 0, 0.5, 0.2083},
		{TimestepSampler{Kind: "weighted"}, 0, 0.5005, math.Sqrt(1.0/12 - 1.0/12e6)},
	}
	for _, tc := range tests {
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 200000
		var sum, sq float64
		for i := 0; i < n; i++ {
			x, _, err := tc.s.Sample(rng, tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			if x < tMin || x > 1 {
				t.Fatalf("%s: t = %g out of range", tc.s.Kind, x)
			}
			sum += x
			sq += x * x
		}
		mean := sum / n
		sd := math.Sqrt(sq/n - mean*mean)
		if math.Abs(mean-tc.mean) > 0.01 || math.Abs(sd-tc.sd) > 0.01 {
			t.Errorf("%s: mean %.4f sd %.4f, want %.4f %.4f", tc.s.Kind, mean, sd, tc.mean, tc.sd)
		}
	}
}

// TestFlux2Shift: the median of flux2_shift is the shifted median of the
// logit-normal (0.5), i.e. e^mu/(1+e^mu), which grows with resolution.
func TestFlux2Shift(t *testing.T) {
	if mu := Flux2ShiftMu(4096); math.Abs(mu-1.15) > 1e-12 {
		t.Errorf("mu(4096) = %g", mu)
	}
	if mu := Flux2ShiftMu(256); math.Abs(mu-0.5) > 1e-12 {
		t.Errorf("mu(256) = %g", mu)
	}
	for _, seq := range []int{256, 1024, 4096} {
		s := TimestepSampler{Kind: "flux2_shift", SigmoidScale: 1}
		rng := rand.New(rand.NewPCG(3, 4))
		below := 0
		want := math.Exp(Flux2ShiftMu(seq)) / (1 + math.Exp(Flux2ShiftMu(seq)))
		const n = 100000
		for i := 0; i < n; i++ {
			x, _, _ := s.Sample(rng, seq)
			if x < want {
				below++
			}
		}
		if f := float64(below) / n; math.Abs(f-0.5) > 0.01 {
			t.Errorf("seq %d: %.3f of samples below the shifted median %.4f, want 0.5", seq, f, want)
		}
	}
}

func TestLossWeights(t *testing.T) {
	s := TimestepSampler{Kind: "uniform", LossWeighting: "cosmap"}
	_, w, _ := s.Sample(rand.New(rand.NewPCG(1, 1)), 0)
	if w <= 0 {
		t.Errorf("cosmap weight %g", w)
	}
	// The weighted bell has mean 1 over the grid and peaks near 0.88.
	var sum float64
	peakT, peak := 0.0, 0.0
	for i := 1; i <= 1000; i++ {
		x := float64(i) / 1000
		b := weightedBell(x)
		sum += b
		if b > peak {
			peak, peakT = b, x
		}
	}
	if math.Abs(sum/1000-1) > 1e-9 || math.Abs(peakT-0.88) > 0.005 || peak < 1.3 || peak > 1.7 {
		t.Errorf("bell mean %g, peak %g at %g", sum/1000, peak, peakT)
	}
	if _, _, err := (TimestepSampler{Kind: "nope"}).Sample(rand.New(rand.NewPCG(1, 1)), 0); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestLRSchedule(t *testing.T) {
	tests := []struct {
		s    LRSchedule
		step int
		want float64
	}{
		{LRSchedule{Kind: "constant", Base: 1e-4, Total: 10}, 9, 1e-4},
		{LRSchedule{Kind: "constant", Base: 1e-4, Warmup: 4, Total: 10}, 0, 2.5e-5},
		{LRSchedule{Kind: "constant", Base: 1e-4, Warmup: 4, Total: 10}, 3, 1e-4},
		{LRSchedule{Kind: "linear", Base: 1, Min: 0, Total: 11}, 5, 0.5},
		{LRSchedule{Kind: "linear", Base: 1, Min: 0.1, Total: 11}, 10, 0.1},
		{LRSchedule{Kind: "cosine", Base: 1, Min: 0, Total: 11}, 0, 1},
		{LRSchedule{Kind: "cosine", Base: 1, Min: 0, Total: 11}, 5, 0.5},
		{LRSchedule{Kind: "cosine", Base: 1, Min: 0, Total: 11}, 10, 0},
		{LRSchedule{Kind: "cosine", Base: 1, Min: 0, Warmup: 2, Total: 12}, 2, 1},
	}
	for _, tc := range tests {
		got, err := tc.s.At(tc.step)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v at %d = %g, want %g", tc.s, tc.step, got, tc.want)
		}
	}
}
