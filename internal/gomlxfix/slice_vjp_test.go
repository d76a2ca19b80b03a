package gomlxfix_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	_ "github.com/flora-ml/flora/internal/gomlxfix"
)

// TestSliceGradient compares the Slice VJP with finite differences on the
// pure-Go backend (where the stock VJP fails for lack of Pad), for plain,
// offset, strided and multi-axis slices, and through Split and Concatenate.
func TestSliceGradient(t *testing.T) {
	backend, err := simplego.New("parallelism=-1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		fn   func(x *Node) *Node
	}{
		{"axis0", func(x *Node) *Node { return SliceAxis(x, 0, AxisRange(1, 3)) }},
		{"last", func(x *Node) *Node { return SliceAxis(x, -1, AxisRange(2, 5)) }},
		{"both", func(x *Node) *Node { return Slice(x, AxisRange(0, 2), AxisRange(1, 4)) }},
		{"strided", func(x *Node) *Node { return Slice(x, AxisRange(1, 4).Stride(2), AxisRange(0, 6).Stride(4)) }},
		{"split", func(x *Node) *Node { p := Split(x, 1, 3); return Mul(p[0], p[2]) }},
		{"concat", func(x *Node) *Node {
			return Concatenate([]*Node{SliceAxis(x, 1, AxisRange(0, 2)), x}, 1)
		}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x0 := make([]float64, 4*6)
	for i := range x0 {
		x0[i] = rng.NormFloat64()
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// loss = Σ w ⊙ f(x) with fixed random weights w.
			loss := func(x *Node) *Node {
				y := tc.fn(x)
				w := IotaFull(x.Graph(), y.Shape())
				return ReduceAllSum(Mul(y, Cos(w)))
			}
			grad := MustExecOnce(backend, func(x *Node) *Node { return Gradient(loss(x), x)[0] },
				tensors.FromFlatDataAndDimensions(x0, 4, 6))
			got := tensors.MustCopyFlatData[float64](grad)
			exec := MustNewExec(backend, loss)
			const h = 1e-6
			for i := range x0 {
				xp := append([]float64(nil), x0...)
				xm := append([]float64(nil), x0...)
				xp[i] += h
				xm[i] -= h
				fp := tensors.ToScalar[float64](exec.MustExec1(tensors.FromFlatDataAndDimensions(xp, 4, 6)))
				fm := tensors.ToScalar[float64](exec.MustExec1(tensors.FromFlatDataAndDimensions(xm, 4, 6)))
				want := (fp - fm) / (2 * h)
				if math.Abs(got[i]-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Errorf("d/dx[%d] = %g, finite difference %g", i, got[i], want)
				}
			}
		})
	}
}
