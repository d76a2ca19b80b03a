package gomlxfix_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/gomlxfix"
)

func goBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	b, err := simplego.New("parallelism=-1")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// TestGEMMGradients checks the GEMM VJPs of DotGeneral and Dot against
// finite differences and against GoMLX's stock VJP, on einsum patterns with
// batch axes, several and permuted contracting axes, and rank-1 operands.
func TestGEMMGradients(t *testing.T) {
	b := goBackend(t)
	tests := []struct {
		name   string
		fn     func(x, y *Node) *Node
		dx, dy []int
	}{
		{"matmul", func(x, y *Node) *Node { return Einsum("ij,jk->ik", x, y) }, []int{3, 4}, []int{4, 5}},
		{"transposed", func(x, y *Node) *Node { return Einsum("ji,kj->ik", x, y) }, []int{4, 3}, []int{5, 4}},
		{"linear", func(x, y *Node) *Node { return DotGeneral(x, []int{2}, nil, y, []int{1}, nil) }, []int{2, 3, 4}, []int{5, 4}},
		{"attention", func(x, y *Node) *Node { return Einsum("bqhd,bkhd->bhqk", x, y) }, []int{2, 3, 2, 4}, []int{2, 5, 2, 4}},
		{"attention-out", func(x, y *Node) *Node { return Einsum("bhqk,bkhd->bqhd", x, y) }, []int{2, 2, 3, 5}, []int{2, 5, 2, 4}},
		{"two-contract", func(x, y *Node) *Node { return Einsum("abcd,cdb->ab", x, y) }, []int{2, 3, 4, 2}, []int{4, 2, 3}},
		{"crossed-contract", func(x, y *Node) *Node { return DotGeneral(x, []int{0, 2}, []int{1}, y, []int{2, 0}, []int{1}) }, []int{3, 2, 4}, []int{4, 2, 3}},
		// Shapes whose gradients go through dotGeneralCanonical's squeeze and
		// merge: a batch-1 linear, a batch-2 linear (two contracting axes
		// merged), size-1 contracting and batch axes, a batch axis after the
		// contracting run.
		{"linear-b1", func(x, y *Node) *Node { return DotGeneral(x, []int{2}, nil, y, []int{1}, nil) }, []int{1, 3, 4}, []int{5, 4}},
		{"linear-b2", func(x, y *Node) *Node { return DotGeneral(x, []int{2}, nil, y, []int{1}, nil) }, []int{2, 3, 4}, []int{5, 4}},
		{"size1-contract", func(x, y *Node) *Node { return DotGeneral(x, []int{1, 2}, nil, y, []int{0, 1}, nil) }, []int{3, 1, 4}, []int{1, 4, 5}},
		{"size1-batch", func(x, y *Node) *Node { return DotGeneral(x, []int{2}, []int{0}, y, []int{1}, []int{0}) }, []int{1, 3, 4}, []int{1, 4, 2}},
		{"batch-after-contract", func(x, y *Node) *Node { return DotGeneral(x, []int{0, 1}, []int{2}, y, []int{1, 2}, []int{0}) }, []int{3, 4, 2}, []int{2, 3, 4}},
		{"dot-2d", func(x, y *Node) *Node { return Dot(x, y) }, []int{3, 4}, []int{4, 2}},
		{"dot-2d-1d", func(x, y *Node) *Node { return Dot(x, y) }, []int{3, 4}, []int{4}},
		{"dot-1d", func(x, y *Node) *Node { return Dot(x, y) }, []int{4}, []int{4}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x0, y0 := randTensor(rng, tc.dx...), randTensor(rng, tc.dy...)
			loss := func(x, y *Node) *Node {
				out := tc.fn(x, y)
				w := Cos(IotaFull(x.Graph(), out.Shape()))
				return ReduceAllSum(Mul(out, w))
			}
			grads := MustExecOnceN(b, func(x, y *Node) []*Node { return Gradient(loss(x, y), x, y) }, x0, y0)
			exec := MustNewExec(b, loss)
			for which, g := range grads {
				got := tensors.MustCopyFlatData[float64](g)
				base := []*tensors.Tensor{x0, y0}[which]
				vals := tensors.MustCopyFlatData[float64](base)
				for i := range vals {
					eval := func(d float64) float64 {
						p := append([]float64(nil), vals...)
						p[i] += d
						pt := tensors.FromFlatDataAndDimensions(p, base.Shape().Dimensions...)
						args := []any{x0, y0}
						args[which] = pt
						return tensors.ToScalar[float64](exec.MustExec1(args...))
					}
					want := (eval(1e-6) - eval(-1e-6)) / 2e-6
					if math.Abs(got[i]-want) > 1e-6*math.Max(1, math.Abs(want)) {
						t.Fatalf("operand %d element %d: gradient %g, finite difference %g", which, i, got[i], want)
					}
				}
			}
			// Same numbers as GoMLX's own (slow) VJP.
			stock := withStock(func() []*tensors.Tensor {
				return MustExecOnceN(b, func(x, y *Node) []*Node { return Gradient(loss(x, y), x, y) }, x0, y0)
			})
			for i := range grads {
				a, s := tensors.MustCopyFlatData[float64](grads[i]), tensors.MustCopyFlatData[float64](stock[i])
				for j := range a {
					if math.Abs(a[j]-s[j]) > 1e-12*math.Max(1, math.Abs(s[j])) {
						t.Fatalf("operand %d element %d: %g vs stock %g", i, j, a[j], s[j])
					}
				}
			}
		})
	}
}

// withStock runs fn with GoMLX's original VJPs installed.
func withStock[T any](fn func() T) T {
	dg, d := VJPRegistration[NodeTypeDotGeneral], VJPRegistration[NodeTypeDot]
	VJPRegistration[NodeTypeDotGeneral], VJPRegistration[NodeTypeDot] = gomlxfix.StockDotGeneralVJP, gomlxfix.StockDotVJP
	defer func() { VJPRegistration[NodeTypeDotGeneral], VJPRegistration[NodeTypeDot] = dg, d }()
	return fn()
}

// BenchmarkLinearGradient compares the gradient of a [256,512]×[512,2048]
// linear layer (float32) with the GEMM VJP and with GoMLX's stock VJP.
func BenchmarkLinearGradient(b *testing.B) {
	be := goBackend(b)
	rng := rand.New(rand.NewPCG(3, 4))
	x := tensors.FromFlatDataAndDimensions(randF32(rng, 256*512), 256, 512)
	w := tensors.FromFlatDataAndDimensions(randF32(rng, 2048*512), 2048, 512)
	fn := func(x, w *Node) []*Node {
		y := DotGeneral(x, []int{1}, nil, w, []int{1}, nil)
		return Gradient(ReduceAllSum(Mul(y, y)), x, w)
	}
	flops := 3 * 2 * 256.0 * 512 * 2048
	for _, stock := range []bool{false, true} {
		name := "gemm"
		if stock {
			name = "stock"
		}
		b.Run(name, func(b *testing.B) {
			run := func() {
				exec := MustNewExec(be, fn)
				exec.MustExec(x, w)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for _, o := range exec.MustExec(x, w) {
						o.FinalizeAll()
					}
				}
				b.ReportMetric(flops/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
			}
			if stock {
				withStock(func() int { run(); return 0 })
			} else {
				run()
			}
		})
	}
}

func randF32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}
