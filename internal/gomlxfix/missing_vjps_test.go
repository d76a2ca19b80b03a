package gomlxfix_test

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestMissingVJPs checks the added VJPs against finite differences.
func TestMissingVJPs(t *testing.T) {
	b := goBackend(t)
	x0 := []float64{0.3, 0.9, 1.7, 2.5, -0.4}
	pos := []float64{0.3, 0.9, 1.7, 2.5, 0.4}
	tests := []struct {
		name string
		x    []float64
		fn   func(x *Node) *Node
	}{
		{"rsqrt", pos, Rsqrt},
		{"expm1", x0, Expm1},
		{"identity", x0, func(x *Node) *Node { return Mul(Identity(x), x) }},
		{"clamp-scalar-bounds", x0, func(x *Node) *Node {
			return Clamp(Scalar(x.Graph(), x.DType(), 0.0), x, Scalar(x.Graph(), x.DType(), 2.0))
		}},
		{"clip", x0, func(x *Node) *Node { return ClipScalar(x, 0.5, 2.0) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loss := func(x *Node) *Node {
				y := tc.fn(x)
				return ReduceAllSum(Mul(y, AddScalar(IotaFull(x.Graph(), y.Shape()), 1)))
			}
			g := MustExecOnce(b, func(x *Node) *Node { return Gradient(loss(x), x)[0] }, tc.x)
			got := tensors.MustCopyFlatData[float64](g)
			exec := MustNewExec(b, loss)
			for i := range tc.x {
				f := func(d float64) float64 {
					p := append([]float64(nil), tc.x...)
					p[i] += d
					return tensors.ToScalar[float64](exec.MustExec1(p))
				}
				want := (f(1e-6) - f(-1e-6)) / 2e-6
				if math.Abs(got[i]-want) > 1e-5*math.Max(1, math.Abs(want)) {
					t.Errorf("x[%d]: gradient %g, finite difference %g", i, got[i], want)
				}
			}
		})
	}
}
