package lora

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gaussianPart is a rank-r part (in → out) with standard normal factors.
func gaussianPart(rng *rand.Rand, r int, alpha float64, in, out int) *Part {
	p := &Part{Rank: r, Alpha: alpha, In: in, Rows: out, Down: make([]float32, r*in), Up: make([]float32, out*r)}
	for i := range p.Down {
		p.Down[i] = float32(rng.NormFloat64())
	}
	for i := range p.Up {
		p.Up[i] = float32(rng.NormFloat64())
	}
	return p
}

// TestResize: resizing to the same rank is lossless (ΔW unchanged); to a
// lower rank the error equals the dropped singular values exactly (Eckart-
// Young) and the reported energy matches.
func TestResize(t *testing.T) {
	const in, out, r = 20, 12, 6
	p := gaussianPart(rand.New(rand.NewPCG(1, 2)), r, 3, in, out)
	a := &Adapter{Layers: map[string][]*Part{"double_blocks.0.img_attn.proj": {p}}}
	want := p.DeltaRows(1)
	same, rep, err := Resize(a, r)
	if err != nil {
		t.Fatal(err)
	}
	got := same.Layers["double_blocks.0.img_attn.proj"][0].DeltaRows(1)
	var maxErr float64
	for i := range want {
		maxErr = math.Max(maxErr, math.Abs(float64(got[i]-want[i])))
	}
	if maxErr > 1e-4 || math.Abs(rep[0].Energy-1) > 1e-9 {
		t.Errorf("same-rank resize error %g energy %g", maxErr, rep[0].Energy)
	}
	small, rep, err := Resize(a, 2)
	if err != nil {
		t.Fatal(err)
	}
	got = small.Layers["double_blocks.0.img_attn.proj"][0].DeltaRows(1)
	var errSq, normSq float64
	for i := range want {
		d := float64(got[i] - want[i])
		errSq += d * d
		normSq += float64(want[i]) * float64(want[i])
	}
	// Eckart–Young: ‖ΔW − ΔW_k‖² = Σ dropped σ² = (1 − energy)·‖ΔW‖².
	if e := errSq / normSq; math.Abs(e-(1-rep[0].Energy)) > 1e-4 {
		t.Errorf("relative squared error %g, dropped energy %g", e, 1-rep[0].Energy)
	}
	if rep[0].To != 2 || small.Layers["double_blocks.0.img_attn.proj"][0].Rank != 2 {
		t.Errorf("report %+v", rep[0])
	}
}
