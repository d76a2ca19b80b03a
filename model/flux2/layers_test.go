package flux2

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestTimestepEmbedding checks the sinusoidal embedding at t = 1 against the
// reference values in flux2-spec.md §1.3 (cos half first). The spec's values
// are float64; the reference computes the arguments (up to 1000) in float32,
// whose ulp there is 6e-5, so agreement is to ~1e-4.
func TestTimestepEmbedding(t *testing.T) {
	out := MustExecOnce(testutil.Backend(t), func(t *Node) *Node { return TimestepEmbedding(t) }, []float32{1})
	got := tensors.MustCopyFlatData[float32](out)
	want := map[int]float64{0: 0.562379, 1: 0.789615, 2: 0.439954, 127: 0.994232, 128: 0.826880, 129: 0.613603, 130: -0.898020, 255: 0.107254}
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > 1e-4 {
			t.Errorf("emb[%d] = %.6f, want %.6f", i, got[i], w)
		}
	}
}

// TestRoPETables checks the per-axis frequencies θ^(−2j/32) for θ = 2000
// (spec: ω1 = 0.62185, ω2 = 0.38670, ω15 = 0.000804) by reading the angle
// of a token at position 1 on each axis.
func TestRoPETables(t *testing.T) {
	cfg := Config{InChannels: 4, ContextDim: 4, Hidden: 128, NumHeads: 1, AxesDim: [4]int{32, 32, 32, 32}, Theta: 2000, MLPRatio: 3}
	ids := [][][4]float64{{{0, 1, 0, 0}, {0, 0, 0, 1}}}
	cos, sin, err := cfg.RoPETables(ids)
	if err != nil {
		t.Fatal(err)
	}
	c := tensors.MustCopyFlatData[float32](cos)
	s := tensors.MustCopyFlatData[float32](sin)
	angle := func(tok, pair int) float64 {
		return math.Atan2(float64(s[tok*64+pair]), float64(c[tok*64+pair]))
	}
	tests := []struct {
		tok, pair int
		want      float64
	}{
		{0, 16, 1}, {0, 17, 0.62185}, {0, 18, 0.38670}, {0, 31, 0.000804}, // axis h
		{0, 0, 0}, {0, 48, 0}, // axes t and l at position 0
		{1, 48, 1}, {1, 49, 0.62185}, {1, 16, 0}, // axis l
	}
	for _, tc := range tests {
		if got := angle(tc.tok, tc.pair); math.Abs(got-tc.want) > 5e-6 {
			t.Errorf("token %d pair %d angle %.6f, want %.6f", tc.tok, tc.pair, got, tc.want)
		}
	}
}

// TestApplyRoPE compares the slice-free rotation with the pairwise formula
// computed directly on the host.
func TestApplyRoPE(t *testing.T) {
	const b, l, h, hd = 2, 3, 2, 8
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, b*l*h*hd)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	cs := make([]float32, b*l*hd/2)
	sn := make([]float32, b*l*hd/2)
	for i := range cs {
		a := rng.Float64() * 6
		cs[i], sn[i] = float32(math.Cos(a)), float32(math.Sin(a))
	}
	out := MustExecOnce(testutil.Backend(t), ApplyRoPE,
		tensors.FromFlatDataAndDimensions(x, b, l, h, hd),
		tensors.FromFlatDataAndDimensions(cs, b, l, hd/2),
		tensors.FromFlatDataAndDimensions(sn, b, l, hd/2))
	got := tensors.MustCopyFlatData[float32](out)
	for bi := 0; bi < b; bi++ {
		for li := 0; li < l; li++ {
			for hi := 0; hi < h; hi++ {
				for k := 0; k < hd/2; k++ {
					base := ((bi*l+li)*h+hi)*hd + 2*k
					c, s := cs[(bi*l+li)*hd/2+k], sn[(bi*l+li)*hd/2+k]
					w0 := c*x[base] - s*x[base+1]
					w1 := s*x[base] + c*x[base+1]
					if math.Abs(float64(got[base]-w0)) > 1e-6 || math.Abs(float64(got[base+1]-w1)) > 1e-6 {
						t.Fatalf("pair (%d,%d,%d,%d): got (%g,%g) want (%g,%g)", bi, li, hi, k, got[base], got[base+1], w0, w1)
					}
				}
			}
		}
	}
}

// TestLayerNormAndQKNorm checks both norms against host formulas, in float32
// and bfloat16 (the norms compute in float32 either way).
func TestLayerNormAndQKNorm(t *testing.T) {
	x := []float32{1, 2, 3, 4, -1, 0.5, 2, 8}
	scale := []float32{1, 2, 0.5, -1}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
		outs := MustExecOnceN(testutil.Backend(t), func(x, s *Node) []*Node {
			xc := ConvertDType(x, dt)
			return []*Node{ConvertDType(LayerNormNoAffine(xc), dtypes.Float32), ConvertDType(QKNorm(xc, s), dtypes.Float32)}
		}, tensors.FromFlatDataAndDimensions(x, 2, 4), tensors.FromFlatDataAndDimensions(scale, 4))
		ln := tensors.MustCopyFlatData[float32](outs[0])
		qk := tensors.MustCopyFlatData[float32](outs[1])
		tol := 1e-5
		if dt == dtypes.BFloat16 {
			tol = 3e-2
		}
		for r := 0; r < 2; r++ {
			row := x[r*4 : r*4+4]
			var mean, ms float64
			for _, v := range row {
				mean += float64(v) / 4
				ms += float64(v) * float64(v) / 4
			}
			var variance float64
			for _, v := range row {
				variance += (float64(v) - mean) * (float64(v) - mean) / 4
			}
			for i, v := range row {
				wl := (float64(v) - mean) / math.Sqrt(variance+1e-6)
				wq := float64(v) / math.Sqrt(ms+1e-6) * float64(scale[i])
				if math.Abs(float64(ln[r*4+i])-wl) > tol*math.Max(1, math.Abs(wl)) {
					t.Errorf("%s LayerNorm[%d,%d] = %g, want %g", dt, r, i, ln[r*4+i], wl)
				}
				if math.Abs(float64(qk[r*4+i])-wq) > tol*math.Max(1, math.Abs(wq)) {
					t.Errorf("%s QKNorm[%d,%d] = %g, want %g", dt, r, i, qk[r*4+i], wq)
				}
			}
		}
	}
}

func TestConvertHostBFloat16RoundsToNearestEven(t *testing.T) {
	in := []float32{1, 1.00390625, 1.01171875, -2.5, 3.0e38}
	want := []uint16{0x3f80, 0x3f80, 0x3f82, 0xc020, 0x7f62}
	out, err := ConvertHost(tensors.FromFlatDataAndDimensions(in, len(in)), dtypes.BFloat16)
	if err != nil {
		t.Fatal(err)
	}
	out.ConstBytes(func(b []byte) {
		for i, w := range want {
			if got := uint16(b[2*i]) | uint16(b[2*i+1])<<8; got != w {
				t.Errorf("bf16(%g) = %#04x, want %#04x", in[i], got, w)
			}
		}
	})
}
