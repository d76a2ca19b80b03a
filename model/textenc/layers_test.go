package textenc

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

func randomFloats(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// TestAttentionAllowed checks the causal × padding (× sliding window) pattern
// against its definition for right and left padding.
func TestAttentionAllowed(t *testing.T) {
	masks := [][]int32{{1, 1, 1, 0, 0}, {0, 0, 1, 1, 1}}
	for _, window := range []int{0, 2} {
		out := MustExecOnce(testutil.Backend(t), func(m *Node) *Node { return AttentionAllowed(m, window) }, masks)
		got := tensors.MustCopyFlatData[bool](out)
		l := len(masks[0])
		for b, m := range masks {
			for q := 0; q < l; q++ {
				for k := 0; k < l; k++ {
					want := k <= q && m[k] == 1 && (window == 0 || q-k < window)
					if g := got[(b*l+q)*l+k]; g != want {
						t.Errorf("window %d batch %d: allowed[%d,%d] = %v, want %v", window, b, q, k, g, want)
					}
				}
			}
		}
	}
}

// TestGQAAttention compares the graph attention with a float64 loop
// implementation of softmax attention with grouped heads, including a
// fully masked row (which must come out as zeros, like PyTorch SDPA).
func TestGQAAttention(t *testing.T) {
	const b, l, h, kvh, hd = 2, 4, 4, 2, 3
	r := rand.New(rand.NewPCG(1, 2))
	q, k, v := randomFloats(r, b*l*h*hd), randomFloats(r, b*l*kvh*hd), randomFloats(r, b*l*kvh*hd)
	allowed := make([]bool, b*l*l)
	for i := range allowed {
		allowed[i] = r.IntN(2) == 0
	}
	for kk := 0; kk < l; kk++ {
		allowed[(0*l+1)*l+kk] = false // batch 0, query 1: fully masked
	}
	allowed[(1*l+2)*l+0] = true // make sure some row of batch 1 has a key
	out := MustExecOnce(testutil.Backend(t), func(q, k, v, a *Node) *Node { return GQAAttention(q, k, v, a) },
		tensors.FromFlatDataAndDimensions(q, b, l, h, hd), tensors.FromFlatDataAndDimensions(k, b, l, kvh, hd),
		tensors.FromFlatDataAndDimensions(v, b, l, kvh, hd), tensors.FromFlatDataAndDimensions(allowed, b, l, l))
	got := tensors.MustCopyFlatData[float32](out)
	for bi := 0; bi < b; bi++ {
		for head := 0; head < h; head++ {
			kv := head / (h / kvh)
			for qi := 0; qi < l; qi++ {
				weights := make([]float64, l)
				var maxLogit = math.Inf(-1)
				for ki := 0; ki < l; ki++ {
					if !allowed[(bi*l+qi)*l+ki] {
						continue
					}
					var dot float64
					for d := 0; d < hd; d++ {
						dot += float64(q[((bi*l+qi)*h+head)*hd+d]) * float64(k[((bi*l+ki)*kvh+kv)*hd+d])
					}
					weights[ki] = dot / math.Sqrt(hd)
					maxLogit = max(maxLogit, weights[ki])
				}
				var sum float64
				for ki := range weights {
					if allowed[(bi*l+qi)*l+ki] {
						weights[ki] = math.Exp(weights[ki] - maxLogit)
						sum += weights[ki]
					} else {
						weights[ki] = 0
					}
				}
				for d := 0; d < hd; d++ {
					var want float64
					for ki := range weights {
						if sum > 0 {
							want += weights[ki] / sum * float64(v[((bi*l+ki)*kvh+kv)*hd+d])
						}
					}
					g := float64(got[((bi*l+qi)*h+head)*hd+d])
					if math.Abs(g-want) > 1e-5 {
						t.Errorf("out[b%d q%d h%d d%d] = %.6f, want %.6f", bi, qi, head, d, g, want)
					}
				}
			}
		}
	}
}

// TestApplyRoPE checks the rotate-half convention: dims i and i+hd/2 form a
// pair rotated by angle pos·θ^(−2i/hd).
func TestApplyRoPE(t *testing.T) {
	cfg := TinyQwen3Config()
	cfg.HeadDim, cfg.RopeTheta = 8, 100
	const b, l, h = 1, 5, 2
	hd := cfg.HeadDim
	x := randomFloats(rand.New(rand.NewPCG(3, 4)), b*l*h*hd)
	cos, sin, err := cfg.RoPETables(l)
	if err != nil {
		t.Fatal(err)
	}
	out := MustExecOnce(testutil.Backend(t), func(x, c, s *Node) *Node { return ApplyRoPE(x, c, s) },
		tensors.FromFlatDataAndDimensions(x, b, l, h, hd), cos, sin)
	got := tensors.MustCopyFlatData[float32](out)
	for p := 0; p < l; p++ {
		for head := 0; head < h; head++ {
			base := (p*h + head) * hd
			for i := 0; i < hd/2; i++ {
				angle := float64(p) * math.Pow(cfg.RopeTheta, -float64(2*i)/float64(hd))
				x1, x2 := float64(x[base+i]), float64(x[base+i+hd/2])
				want1 := x1*math.Cos(angle) - x2*math.Sin(angle)
				want2 := x2*math.Cos(angle) + x1*math.Sin(angle)
				if math.Abs(float64(got[base+i])-want1) > 1e-5 || math.Abs(float64(got[base+i+hd/2])-want2) > 1e-5 {
					t.Errorf("pos %d head %d pair %d: got (%.6f, %.6f), want (%.6f, %.6f)",
						p, head, i, got[base+i], got[base+i+hd/2], want1, want2)
				}
			}
		}
	}
	if _, _, err := cfg.RoPETables(cfg.MaxPositions + 1); err == nil {
		t.Error("RoPETables accepted a length beyond MaxPositions")
	}
}

// TestRMSNorm checks x·rsqrt(mean(x²)+eps)·w against a loop.
func TestRMSNorm(t *testing.T) {
	const rows, d, eps = 3, 6, 1e-5
	r := rand.New(rand.NewPCG(5, 6))
	x, w := randomFloats(r, rows*d), randomFloats(r, d)
	out := MustExecOnce(testutil.Backend(t), func(x, w *Node) *Node { return RMSNorm(x, w, eps) },
		tensors.FromFlatDataAndDimensions(x, rows, d), w)
	got := tensors.MustCopyFlatData[float32](out)
	for i := 0; i < rows; i++ {
		var ms float64
		for j := 0; j < d; j++ {
			ms += float64(x[i*d+j]) * float64(x[i*d+j]) / d
		}
		for j := 0; j < d; j++ {
			want := float64(x[i*d+j]) / math.Sqrt(ms+eps) * float64(w[j])
			if math.Abs(float64(got[i*d+j])-want) > 1e-5 {
				t.Errorf("row %d col %d: %.6f, want %.6f", i, j, got[i*d+j], want)
			}
		}
	}
}
