package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/flora-ml/flora/model/flux2"
)

// Adapter is a LoRA adapter in memory: format-neutral, float32, keyed by
// official module path.
type Adapter struct {
	// Layers maps a module path to its LoRA parts. A module trained by Flora
	// has one part covering all output rows; an adapter imported from a
	// layout that splits a fused layer (diffusers' to_q/to_k/to_v) may have
	// one part per slice of the fused output.
	Layers map[string][]*Part
	// Metadata is carried to and from file headers.
	Metadata map[string]string
}

// Part is one low-rank update ΔW = (Alpha/Rank)·Up·Down acting on the output
// rows [RowOffset, RowOffset+Rows) of a layer, or with LoKr set a LoKr
// update scale·kron(W1, W2) of the whole layer (Down and Up nil; Rank is
// W2's rank, 0 for a whole W2).
type Part struct {
	Rank  int
	Alpha float64
	// In is the layer's input width, Rows the number of output rows covered.
	In, Rows  int
	RowOffset int
	// Down is A [Rank, In], Up is B [Rows, Rank], row-major.
	Down, Up []float32
	// LoKr holds the Kronecker factors of a LoKr part; nil for LoRA.
	LoKr *LoKr
}

// Scale is alpha/rank (1 for a LoKr part with a whole W2).
func (p *Part) Scale() float64 {
	if p.LoKr != nil && p.Rank == 0 {
		return 1
	}
	return p.Alpha / float64(p.Rank)
}

// Validate checks the part's internal consistency.
func (p *Part) Validate() error {
	if p.LoKr != nil {
		return p.validateLoKr()
	}
	switch {
	case p.Rank < 1:
		return fmt.Errorf("rank %d < 1", p.Rank)
	case len(p.Down) != p.Rank*p.In:
		return fmt.Errorf("down has %d values, want rank %d × in %d", len(p.Down), p.Rank, p.In)
	case len(p.Up) != p.Rows*p.Rank:
		return fmt.Errorf("up has %d values, want rows %d × rank %d", len(p.Up), p.Rows, p.Rank)
	case p.RowOffset < 0:
		return fmt.Errorf("negative row offset %d", p.RowOffset)
	case math.IsNaN(p.Alpha) || math.IsInf(p.Alpha, 0):
		return fmt.Errorf("alpha is %v", p.Alpha)
	}
	return nil
}

// Modules returns the adapted module paths in order.
func (a *Adapter) Modules() []string {
	out := make([]string, 0, len(a.Layers))
	for m := range a.Layers {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return moduleLess(out[i], out[j]) })
	return out
}

// NumParams counts the adapter's weights.
func (a *Adapter) NumParams() int64 {
	var n int64
	for _, parts := range a.Layers {
		for _, p := range parts {
			n += int64(len(p.Down) + len(p.Up))
			if p.LoKr != nil {
				n += p.LoKr.numParams()
			}
		}
	}
	return n
}

// Validate checks every part against the architecture's layer shapes.
func (a *Adapter) Validate(cfg flux2.Config) error {
	layers, _ := Layers(cfg)
	byModule := map[string]Layer{}
	for _, l := range layers {
		byModule[l.Module] = l
	}
	for _, m := range a.Modules() {
		l, ok := byModule[m]
		if !ok {
			return fmt.Errorf("lora layer %s is not a linear layer of this FLUX.2 architecture", m)
		}
		for i, p := range a.Layers[m] {
			if err := p.Validate(); err != nil {
				return fmt.Errorf("lora layer %s part %d: %w", m, i, err)
			}
			if p.In != l.In || p.RowOffset+p.Rows > l.Out {
				return fmt.Errorf("lora layer %s part %d: shape in %d rows [%d,%d) does not fit the layer [%d out, %d in]",
					m, i, p.In, p.RowOffset, p.RowOffset+p.Rows, l.Out, l.In)
			}
		}
	}
	return nil
}

// NewAdapter initialises a fresh adapter for the targets the PEFT way: A
// (down) Kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in), and B (up)
// zeros, so a fresh adapter leaves the model unchanged.
func NewAdapter(targets []Target, seed uint64) *Adapter {
	rng := rand.New(rand.NewPCG(seed, 0x10a))
	a := &Adapter{Layers: map[string][]*Part{}, Metadata: map[string]string{}}
	for _, t := range targets {
		bound := 1 / math.Sqrt(float64(t.In))
		down := make([]float32, t.Rank*t.In)
		for i := range down {
			down[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		a.Layers[t.Module] = []*Part{{
			Rank: t.Rank, Alpha: t.Alpha, In: t.In, Rows: t.Out,
			Down: down, Up: make([]float32, t.Out*t.Rank),
		}}
	}
	return a
}

// DeltaRows returns the part's dense update (alpha/rank)·strength·B·A (for a LoKr
// part scale·strength·kron(W1, W2)) as
// row-major float32 [Rows, In], accumulated in float64.
func (p *Part) DeltaRows(strength float64) []float32 {
	if p.LoKr != nil {
		return p.lokrDelta(strength)
	}
	scale := p.Scale() * strength
	out := make([]float32, p.Rows*p.In)
	acc := make([]float64, p.In)
	for r := 0; r < p.Rows; r++ {
		for i := range acc {
			acc[i] = 0
		}
		for k := 0; k < p.Rank; k++ {
			u := float64(p.Up[r*p.Rank+k])
			if u == 0 {
				continue
			}
			for i, d := range p.Down[k*p.In : (k+1)*p.In] {
				acc[i] += u * float64(d)
			}
		}
		for i, v := range acc {
			out[r*p.In+i] = float32(v * scale)
		}
	}
	return out
}

// Norm is the Frobenius norm of the part's update (alpha/rank)·B·A,
// computed from the rank×rank Gram matrices: ‖BA‖² = tr((BᵀB)(AAᵀ)); for a
// LoKr part scale·‖W1‖·‖W2‖.
func (p *Part) Norm() float64 {
	if p.LoKr != nil {
		return p.lokrNorm()
	}
	r := p.Rank
	btb := make([]float64, r*r)
	for row := 0; row < p.Rows; row++ {
		for i := 0; i < r; i++ {
			x := float64(p.Up[row*r+i])
			for j := 0; j < r; j++ {
				btb[i*r+j] += x * float64(p.Up[row*r+j])
			}
		}
	}
	aat := make([]float64, r*r)
	for i := 0; i < r; i++ {
		for j := 0; j < r; j++ {
			var s float64
			for c := 0; c < p.In; c++ {
				s += float64(p.Down[i*p.In+c]) * float64(p.Down[j*p.In+c])
			}
			aat[i*r+j] = s
		}
	}
	var tr float64
	for i := 0; i < r; i++ {
		for j := 0; j < r; j++ {
			tr += btb[i*r+j] * aat[j*r+i]
		}
	}
	return p.Scale() * math.Sqrt(math.Max(tr, 0))
}

// GuessBase names the FLUX.2 variants an adapter fits, from its metadata
// (flora.base_variant, ss_base_model_version) or else from its layers' input
// widths and block indices; "unknown" when nothing matches.
func (a *Adapter) GuessBase() string {
	if v := a.Metadata["flora.base_variant"]; v != "" {
		return v
	}
	if tag := a.Metadata["ss_base_model_version"]; tag != "" {
		var names []string
		for _, v := range flux2.Variants {
			if v.ArchTag == tag {
				names = append(names, v.Name)
			}
		}
		if len(names) > 0 {
			return strings.Join(names, "/")
		}
	}
	var names []string
	for _, v := range flux2.Variants {
		if a.Validate(v.Config) == nil {
			names = append(names, v.Name)
		}
	}
	if len(names) == 0 {
		return "unknown"
	}
	return strings.Join(names, "/") + " (from shapes)"
}
