package flux2

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// timestepFrequencies returns the 128 frequencies of the sinusoidal
// embedding, exp(−ln(10000)·i/128), computed in float32 in the same order of
// operations as the reference so the embedding matches it bit for bit.
func timestepFrequencies() []float32 {
	half := TimeEmbedDim / 2
	freqs := make([]float32, half)
	negLogMax := float32(-math.Log(10000))
	for i := range freqs {
		v := negLogMax * float32(i) / float32(half)
		freqs[i] = float32(math.Exp(float64(v)))
	}
	return freqs
}

// TimestepEmbedding is the sinusoidal embedding of flow times (or guidance
// values): t [B] → [B, 256] = [cos(1000·t·f_i) ; sin(1000·t·f_i)], cos half
// first, computed in float32.
func TimestepEmbedding(t *Node) *Node {
	assertDims("timesteps", t, -1)
	g := t.Graph()
	tf := ConvertDType(t, dtypes.Float32)
	scaled := MulScalar(tf, 1000)
	freqs := Const(g, timestepFrequencies())
	args := Mul(InsertAxes(scaled, -1), InsertAxes(freqs, 0)) // [B, 128]
	return Concatenate([]*Node{Cos(args), Sin(args)}, -1)
}

// MLPEmbedder is in_layer → SiLU → out_layer (BFL time_in / guidance_in).
// x [B, in] → [B, D].
func MLPEmbedder(w Weights, x *Node) *Node {
	h := w.Linear("in_layer", x)
	return w.Linear("out_layer", silu(h))
}

// silu is x·sigmoid(x).
func silu(x *Node) *Node { return Mul(x, Sigmoid(x)) }
