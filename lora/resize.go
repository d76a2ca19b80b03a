package lora

import (
	"fmt"
	"math"
)

// ResizeReport says how much of each layer's update a rank reduction kept.
type ResizeReport struct {
	Module string
	From   int
	To     int
	// Energy is Σ kept σ² / Σ σ² of the layer's update ΔW (1 = lossless).
	Energy float64
	// Kept and Total are Σ kept σ² and Σ σ² of ΔW = (alpha/r)·B·A (so a
	// group's energy is ΣKept/ΣTotal over its layers).
	Kept, Total float64
}

// Resize reduces every layer to at most rank (a truncated SVD of its update
// ΔW = (alpha/r)·B·A, computed from the factors: QR of B and of Aᵀ, then the
// SVD of the small r×r core), keeping the update's scale: the new layers have
// alpha = rank and carry the scale in their factors. Parallel parts are
// combined first (exactly).
func Resize(a *Adapter, rank int) (*Adapter, []ResizeReport, error) {
	if rank < 1 {
		return nil, nil, fmt.Errorf("target rank must be >= 1, got %d", rank)
	}
	if a.IsLoKr() {
		return nil, nil, fmt.Errorf("resize reduces LoRA ranks; this is a LoKr adapter (its size is set by the factor and lokr_w2's rank when trained)")
	}
	out := &Adapter{Layers: map[string][]*Part{}, Metadata: a.Metadata}
	var reports []ResizeReport
	for _, m := range a.Modules() {
		p := dense(m, a.Layers[m], layerOut(a, m, nil))
		r := p.Rank
		b := fromF32(p.Up, p.Rows, r)
		at := fromF32(p.Down, r, p.In).transpose() // [in, r]
		qb, rb := qr(b)
		qa, ra := qr(at)
		core := mul(rb, ra.transpose()) // B·A = qb·(rb·raᵀ)·qaᵀ
		u, s, v := svd(core)
		k := min(rank, r)
		var kept, total float64
		for i, x := range s {
			total += x * x
			if i < k {
				kept += x * x
			}
		}
		energy := 1.0
		if total > 0 {
			energy = kept / total
		}
		scale := p.Scale()
		// B' = qb·u_k·√(scale·s_k), A' = √(scale·s_k)·v_kᵀ·qaᵀ, alpha = k.
		left := mul(qb, u)
		right := mul(qa, v) // [in, r]
		np := &Part{Rank: k, Alpha: float64(k), In: p.In, Rows: p.Rows, Up: make([]float32, p.Rows*k), Down: make([]float32, k*p.In)}
		for j := 0; j < k; j++ {
			f := math.Sqrt(scale * s[j])
			for i := 0; i < p.Rows; i++ {
				np.Up[i*k+j] = float32(left.at(i, j) * f)
			}
			for i := 0; i < p.In; i++ {
				np.Down[j*p.In+i] = float32(right.at(i, j) * f)
			}
		}
		out.Layers[m] = []*Part{np}
		scale2 := p.Scale() * p.Scale()
		reports = append(reports, ResizeReport{Module: m, From: r, To: k, Energy: energy, Kept: kept * scale2, Total: total * scale2})
	}
	return out, reports, nil
}
