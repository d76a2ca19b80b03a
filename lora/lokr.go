package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive

	"github.com/flora-ml/flora/model/weights"
)

// LoKr holds the Kronecker factors of a LoKr part, LyCORIS' LokrModule on
// a linear layer: ΔW = scale·kron(W1, W2), so the layer's rows are
// OutA·OutB and its inputs InA·InB, and ΔW[i·OutB+j, k·InB+l] =
// scale·W1[i,k]·W2[j,l]. W1 is the small factor (LyCORIS' w1, always stored
// whole: Flora does not use decompose_both), W2 the large one, whole or
// low-rank W2 = W2A·W2B. The part's Rank is W2's rank (0 for a whole W2)
// and its scale alpha/rank for a low-rank W2, 1 for a whole one (LyCORIS
// and ComfyUI ignore alpha then).
type LoKr struct {
	// OutA, InA is W1's shape; OutB, InB W2's.
	OutA, InA, OutB, InB int
	// W1 is [OutA, InA], row-major.
	W1 []float32
	// W2 is the whole right factor [OutB, InB]; nil when W2 is low-rank.
	W2 []float32
	// W2A [OutB, rank] and W2B [rank, InB] are a low-rank W2's halves.
	W2A, W2B []float32
}

// LoKrOptions are the LyCORIS settings of a LoKr adapter Flora trains.
type LoKrOptions struct {
	// Factor splits each dimension as Factorization does (-1: the most
	// balanced split).
	Factor int
	// FullMatrix stores W2 whole (LyCORIS full_matrix); otherwise W2 is
	// low-rank with the target's rank unless that rank is at least half of
	// W2's larger side, where LyCORIS (and Flora) store it whole too.
	FullMatrix bool
}

// Factorization splits dimension into m ≤ n with m·n = dimension as
// lycoris-lora 4.1.3's factorization does: with factor > 0 dividing
// dimension, (factor, dimension/factor) in order; otherwise (factor -1: no
// bound) m steps through the divisors of dimension while m < n and m stays
// within factor, ending at the most balanced pair allowed. (ComfyUI 0.8.0's
// copy also requires factor² ≤ dimension; it uses it only to create new
// adapters, never to load one.)
func Factorization(dimension, factor int) (int, int) {
	if factor > 0 && dimension%factor == 0 {
		m, n := factor, dimension/factor
		return min(m, n), max(m, n)
	}
	if factor < 0 {
		factor = dimension
	}
	m, n := 1, dimension
	length := m + n
	for m < n {
		newM := m + 1
		for dimension%newM != 0 {
			newM++
		}
		newN := dimension / newM
		if newM+newN > length || newM > factor {
			break
		}
		m, n = newM, newN
	}
	return min(m, n), max(m, n)
}

// lokrShape returns W1's and W2's shapes for a layer [out, in].
func lokrShape(out, in, factor int) (outA, inA, outB, inB int) {
	outA, outB = Factorization(out, factor)
	inA, inB = Factorization(in, factor)
	return
}

// lokrLowRank is LyCORIS' rule for a low-rank W2: rank < max(outB, inB)/2
// and not full_matrix.
func lokrLowRank(rank, outB, inB int, full bool) bool {
	return !full && 2*rank < max(outB, inB)
}

// NewLoKrAdapter initialises a fresh LoKr adapter the LyCORIS way: W1 and
// a low-rank W2's W2A Kaiming-uniform with a = √5 (U(−1/√fan_in,
// 1/√fan_in), fan_in their column count), W2 or W2B zeros, so a fresh
// adapter leaves the model unchanged. A whole W2 gets alpha = the target's
// rank (what LyCORIS writes; the scale is 1 either way).
func NewLoKrAdapter(targets []Target, opt LoKrOptions, seed uint64) *Adapter {
	rng := rand.New(rand.NewPCG(seed, 0x10b))
	uniform := func(n, fanIn int) []float32 {
		bound := 1 / math.Sqrt(float64(fanIn))
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		return v
	}
	a := &Adapter{Layers: map[string][]*Part{}, Metadata: map[string]string{}}
	for _, t := range targets {
		outA, inA, outB, inB := lokrShape(t.Out, t.In, opt.Factor)
		k := &LoKr{OutA: outA, InA: inA, OutB: outB, InB: inB, W1: uniform(outA*inA, inA)}
		p := &Part{In: t.In, Rows: t.Out, LoKr: k}
		if lokrLowRank(t.Rank, outB, inB, opt.FullMatrix) {
			p.Rank, p.Alpha = t.Rank, t.Alpha
			k.W2A, k.W2B = uniform(outB*t.Rank, t.Rank), make([]float32, t.Rank*inB)
		} else {
			p.Alpha = float64(t.Rank)
			k.W2 = make([]float32, outB*inB)
		}
		a.Layers[t.Module] = []*Part{p}
	}
	return a
}

// validateLoKr checks a LoKr part's shapes.
func (p *Part) validateLoKr() error {
	k := p.LoKr
	switch {
	case k.OutA < 1 || k.InA < 1 || k.OutB < 1 || k.InB < 1:
		return fmt.Errorf("lokr factor shapes [%d, %d] and [%d, %d] must be positive", k.OutA, k.InA, k.OutB, k.InB)
	case k.OutA*k.OutB != p.Rows || k.InA*k.InB != p.In:
		return fmt.Errorf("kron of lokr_w1 [%d, %d] and lokr_w2 [%d, %d] is not the layer's [%d, %d]", k.OutA, k.InA, k.OutB, k.InB, p.Rows, p.In)
	case len(k.W1) != k.OutA*k.InA:
		return fmt.Errorf("lokr_w1 has %d values, want %d×%d", len(k.W1), k.OutA, k.InA)
	case p.RowOffset != 0:
		return fmt.Errorf("a lokr part covers all rows of its layer, not from row %d", p.RowOffset)
	case math.IsNaN(p.Alpha) || math.IsInf(p.Alpha, 0):
		return fmt.Errorf("alpha is %v", p.Alpha)
	}
	if p.Rank == 0 {
		if len(k.W2) != k.OutB*k.InB || k.W2A != nil || k.W2B != nil {
			return fmt.Errorf("a lokr part of rank 0 needs the whole lokr_w2 [%d, %d] (has %d values) and no lokr_w2_a/b", k.OutB, k.InB, len(k.W2))
		}
		return nil
	}
	if p.Rank < 0 || k.W2 != nil || len(k.W2A) != k.OutB*p.Rank || len(k.W2B) != p.Rank*k.InB {
		return fmt.Errorf("a low-rank lokr_w2 of rank %d needs lokr_w2_a [%d, %d] and lokr_w2_b [%d, %d] (has %d and %d values)",
			p.Rank, k.OutB, p.Rank, p.Rank, k.InB, len(k.W2A), len(k.W2B))
	}
	return nil
}

// numParams counts the LoKr factors' values.
func (k *LoKr) numParams() int64 { return int64(len(k.W1) + len(k.W2) + len(k.W2A) + len(k.W2B)) }

// w2Dense returns W2 [OutB, InB] in float64 (W2A·W2B for a low-rank W2).
func (k *LoKr) w2Dense(rank int) []float64 {
	out := make([]float64, k.OutB*k.InB)
	if k.W2 != nil {
		for i, v := range k.W2 {
			out[i] = float64(v)
		}
		return out
	}
	for j := 0; j < k.OutB; j++ {
		for r := 0; r < rank; r++ {
			a := float64(k.W2A[j*rank+r])
			for l := 0; l < k.InB; l++ {
				out[j*k.InB+l] += a * float64(k.W2B[r*k.InB+l])
			}
		}
	}
	return out
}

// lokrDelta returns scale·strength·kron(W1, W2) as row-major [Rows, In].
func (p *Part) lokrDelta(strength float64) []float32 {
	k := p.LoKr
	w2 := k.w2Dense(p.Rank)
	s := p.Scale() * strength
	out := make([]float32, p.Rows*p.In)
	for i := 0; i < k.OutA; i++ {
		for kk := 0; kk < k.InA; kk++ {
			w1 := float64(k.W1[i*k.InA+kk]) * s
			for j := 0; j < k.OutB; j++ {
				row := (i*k.OutB + j) * p.In
				for l := 0; l < k.InB; l++ {
					out[row+kk*k.InB+l] = float32(w1 * w2[j*k.InB+l])
				}
			}
		}
	}
	return out
}

// lokrNorm is ‖scale·kron(W1, W2)‖_F = scale·‖W1‖·‖W2‖.
func (p *Part) lokrNorm() float64 {
	var n1, n2 float64
	for _, v := range p.LoKr.W1 {
		n1 += float64(v) * float64(v)
	}
	for _, v := range p.LoKr.w2Dense(p.Rank) {
		n2 += v * v
	}
	return math.Abs(p.Scale()) * math.Sqrt(n1*n2)
}

// IsLoKr reports whether any part of the adapter is a LoKr part.
func (a *Adapter) IsLoKr() bool {
	for _, parts := range a.Layers {
		for _, p := range parts {
			if p.LoKr != nil {
				return true
			}
		}
	}
	return false
}

// LoKrFactor returns the factor that reproduces the shapes of every LoKr
// part of the adapter (Factorization of each layer's rows and inputs): -1
// when the balanced split does, else the first of the parts' W1 sides that
// does; ok is false when none does (or the adapter holds no LoKr part).
func (a *Adapter) LoKrFactor() (factor int, ok bool) {
	var parts []*Part
	cands := []int{-1}
	for _, m := range a.Modules() {
		for _, p := range a.Layers[m] {
			if p.LoKr != nil {
				parts = append(parts, p)
				cands = append(cands, p.LoKr.OutA, p.LoKr.InA)
			}
		}
	}
	if len(parts) == 0 {
		return 0, false
	}
next:
	for _, f := range cands {
		for _, p := range parts {
			outA, inA, outB, inB := lokrShape(p.Rows, p.In, f)
			k := p.LoKr
			if outA != k.OutA || inA != k.InA || outB != k.OutB || inB != k.InB {
				continue next
			}
		}
		return f, true
	}
	return 0, false
}

// lokrApply returns x·kron(W1, W2)ᵀ [..., OutA·OutB] for x [..., InA·InB]
// without building the Kronecker product: x as [N, InA, InB] is contracted
// with W2 over InB (through W2B then W2A for a low-rank W2), then with W1
// over InA. w2 is nil for a low-rank W2 (w2a, w2b given), else w2a, w2b
// are nil.
func lokrApply(x, w1, w2, w2a, w2b *Node) *Node {
	conv := func(w *Node) *Node {
		if w.DType() != x.DType() {
			return ConvertDType(w, x.DType())
		}
		return w
	}
	outA, inA := w1.Shape().Dim(0), w1.Shape().Dim(1)
	in := x.Shape().Dim(-1)
	dims := x.Shape().Dimensions
	h := Reshape(x, -1, inA, in/inA) // [N, InA, InB]
	if w2 != nil {
		h = DotGeneral(h, []int{2}, nil, conv(w2), []int{1}, nil) // [N, InA, OutB]
	} else {
		h = DotGeneral(h, []int{2}, nil, conv(w2b), []int{1}, nil) // [N, InA, rank]
		h = DotGeneral(h, []int{2}, nil, conv(w2a), []int{1}, nil) // [N, InA, OutB]
	}
	outB := h.Shape().Dim(2)
	y := DotGeneral(h, []int{1}, nil, conv(w1), []int{1}, nil) // [N, OutB, OutA]
	y = TransposeAllDims(y, 0, 2, 1)                           // [N, OutA, OutB]
	out := append(append([]int(nil), dims[:len(dims)-1]...), outA*outB)
	return Reshape(y, out...)
}

// lokrTensors writes a LoKr part under stem with LyCORIS' names:
// stem.lokr_w1, stem.lokr_w2 or stem.lokr_w2_a/.lokr_w2_b, and stem.alpha
// (a scalar, as LyCORIS saves it).
func lokrTensors(stem string, p *Part, dt weights.DType) ([]weights.TensorData, error) {
	k := p.LoKr
	type tensor struct {
		name string
		dims []int
		v    []float32
	}
	ts := []tensor{{stem + ".lokr_w1", []int{k.OutA, k.InA}, k.W1}}
	if p.Rank == 0 {
		ts = append(ts, tensor{stem + ".lokr_w2", []int{k.OutB, k.InB}, k.W2})
	} else {
		ts = append(ts, tensor{stem + ".lokr_w2_a", []int{k.OutB, p.Rank}, k.W2A}, tensor{stem + ".lokr_w2_b", []int{p.Rank, k.InB}, k.W2B})
	}
	var out []weights.TensorData
	for _, t := range ts {
		d, err := weights.Float32DataAs(t.name, dt, t.dims, t.v)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return append(out, weights.Float32Data(stem+".alpha", []int{}, []float32{float32(p.Alpha)})), nil
}

// lokrKinds are the LoKr tensor suffixes Flora reads, by loraKey kind.
var lokrKinds = map[string]string{"lokr_w1": "w1", "lokr_w2": "w2", "lokr_w2_a": "w2_a", "lokr_w2_b": "w2_b"}

// readLoKr reads one layer's LoKr tensors (kinds w1, w2, w2_a, w2_b and
// alpha, by tensor name) into a part. A missing alpha means scale 1, as in
// ComfyUI (alpha = rank).
func readLoKr(f *weights.File, stem string, names map[string]string) (*Part, error) {
	get := func(kind string) ([]float32, []int, error) {
		v, d, err := readF32(f, names[kind])
		if err == nil && len(d) != 2 {
			err = fmt.Errorf("%s has shape %v, want a matrix", names[kind], d)
		}
		return v, d, err
	}
	if names["w1"] == "" {
		return nil, fmt.Errorf("layer %s has LoKr tensors but no lokr_w1 (a decomposed w1, lokr_w1_a/b, is not supported)", stem)
	}
	w1, d1, err := get("w1")
	if err != nil {
		return nil, err
	}
	k := &LoKr{OutA: d1[0], InA: d1[1], W1: w1}
	p := &Part{LoKr: k}
	switch {
	case names["w2"] != "" && names["w2_a"] == "" && names["w2_b"] == "":
		w2, d2, err := get("w2")
		if err != nil {
			return nil, err
		}
		k.OutB, k.InB, k.W2 = d2[0], d2[1], w2
	case names["w2"] == "" && names["w2_a"] != "" && names["w2_b"] != "":
		a, da, err := get("w2_a")
		if err != nil {
			return nil, err
		}
		b, db, err := get("w2_b")
		if err != nil {
			return nil, err
		}
		if da[1] != db[0] {
			return nil, fmt.Errorf("layer %s: lokr_w2_a %v and lokr_w2_b %v do not multiply", stem, da, db)
		}
		k.OutB, k.InB, k.W2A, k.W2B, p.Rank = da[0], db[1], a, b, da[1]
	default:
		return nil, fmt.Errorf("layer %s needs lokr_w2, or lokr_w2_a and lokr_w2_b (not both, not one half)", stem)
	}
	p.Rows, p.In = k.OutA*k.OutB, k.InA*k.InB
	p.Alpha = float64(max(p.Rank, 1))
	if names["alpha"] != "" {
		if p.Alpha, err = readScalar(f, names["alpha"]); err != nil {
			return nil, err
		}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("layer %s: %w", stem, err)
	}
	return p, nil
}

// lokrHeader returns the header keys naming a LoKr adapter's algorithm as
// LyCORIS' kohya network writes them (ss_network_module lycoris.kohya,
// ss_network_args with algo and factor) and Flora's flora.adapter_type and
// flora.lokr_factor.
func lokrHeader(a *Adapter) map[string]string {
	factor, ok := a.LoKrFactor()
	f := ""
	if ok {
		f = strconv.Itoa(factor)
	}
	args := `{"algo": "lokr"`
	if ok {
		args += `, "factor": "` + f + `"`
	}
	return map[string]string{"flora.adapter_type": "lokr", "flora.lokr_factor": f,
		"ss_network_module": "lycoris.kohya", "ss_network_args": args + "}"}
}

// checkLoKrLayout rejects LoKr adapters a file cannot hold: several parts on
// one module (LoKr parts are whole layers) or a mix with LoRA parts.
func checkLoKrLayout(a *Adapter) error {
	lokr, plain := 0, 0
	for _, m := range a.Modules() {
		parts := a.Layers[m]
		for _, p := range parts {
			if p.LoKr != nil {
				lokr++
				if len(parts) > 1 {
					return fmt.Errorf("layer %s has %d parts with a LoKr one; a LoKr file holds one whole-layer part per layer", m, len(parts))
				}
			} else {
				plain++
			}
		}
	}
	if lokr > 0 && plain > 0 {
		return fmt.Errorf("the adapter mixes %d LoKr and %d LoRA parts; save them as separate files", lokr, plain)
	}
	return nil
}
