package lora

import (
	"math"
	"math/rand/v2"
	"testing"
)

// denseDelta is a part's ΔW in float64, row-major [Rows, In].
func denseDelta(p *Part) []float64 {
	d := p.DeltaRows(1)
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// topSingularValue is σ₁ of a dense [rows, cols] matrix by power iteration
// on MᵀM (independent of the QR/Jacobi path under test).
func topSingularValue(m []float64, rows, cols int) float64 {
	x := make([]float64, cols)
	for i := range x {
		x[i] = 1 / math.Sqrt(float64(cols)) * float64(1+i%3)
	}
	var sigma float64
	for it := 0; it < 2000; it++ {
		y := make([]float64, rows)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				y[r] += m[r*cols+c] * x[c]
			}
		}
		z := make([]float64, cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				z[c] += m[r*cols+c] * y[r]
			}
		}
		var n float64
		for _, v := range z {
			n += v * v
		}
		n = math.Sqrt(n)
		for i := range z {
			x[i] = z[i] / n
		}
		sigma = math.Sqrt(n)
	}
	return sigma
}

// TestResizeKeepsTopSingularValues: rank-1 resize keeps exactly σ₁² of
// ΔW's energy (the best rank-1 approximation), computed independently; a
// rank-deficient layer (repeated A rows, zero B column) resizes to its own
// rank without loss.
func TestResizeKeepsTopSingularValues(t *testing.T) {
	const in, out, r = 20, 12, 5
	p := gaussianPart(rand.New(rand.NewPCG(7, 8)), r, 2.5, in, out)
	module := "double_blocks.0.img_attn.proj"
	a := &Adapter{Layers: map[string][]*Part{module: {p}}}
	dw := denseDelta(p)
	var total float64
	for _, v := range dw {
		total += v * v
	}
	s1 := topSingularValue(dw, out, in)
	_, rep, err := Resize(a, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rep[0].Kept-s1*s1) > 1e-5*s1*s1 || math.Abs(rep[0].Total-total) > 1e-5*total {
		t.Errorf("kept %g total %g, want σ₁² %g and ‖ΔW‖² %g", rep[0].Kept, rep[0].Total, s1*s1, total)
	}

	// Rank 2 in disguise: rows 2..4 of A repeat rows 0..1, B's columns 2..4 are
	// combinations or zero.
	q := &Part{Rank: r, Alpha: 5, In: in, Rows: out, Down: append([]float32(nil), p.Down...), Up: make([]float32, out*r)}
	copy(q.Down[2*in:3*in], q.Down[0:in])
	copy(q.Down[3*in:4*in], q.Down[in:2*in])
	copy(q.Down[4*in:5*in], q.Down[0:in])
	for row := 0; row < out; row++ {
		q.Up[row*r] = p.Up[row*r]
		q.Up[row*r+1] = p.Up[row*r+1]
		q.Up[row*r+2] = 2 * p.Up[row*r]
	}
	b := &Adapter{Layers: map[string][]*Part{module: {q}}}
	small, rep, err := Resize(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, got := denseDelta(q), denseDelta(small.Layers[module][0])
	var e, n float64
	for i := range want {
		e += (got[i] - want[i]) * (got[i] - want[i])
		n += want[i] * want[i]
	}
	if math.Sqrt(e/n) > 1e-5 || math.Abs(rep[0].Energy-1) > 1e-9 {
		t.Errorf("rank-2 layer resized to 2: relative error %g, energy %g", math.Sqrt(e/n), rep[0].Energy)
	}
}
