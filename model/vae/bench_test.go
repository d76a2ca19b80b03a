package vae

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// randomVAE returns a VAE of the architecture with random weights
// (N(0, 1/fan_in) kernels, GroupNorm scales around 1, positive BatchNorm
// variances): for speed measurements and shape tests.
func randomVAE(tb testing.TB, cfg Config, conv ConvAlgorithm) *VAE {
	tb.Helper()
	v, err := New(testutil.Backend(tb), cfg, Options{Conv: conv})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for name, dims := range cfg.ParamShapes() {
		n, fanIn := 1, 1
		for i, d := range dims {
			n *= d
			if i > 0 {
				fanIn *= d
			}
		}
		vals := make([]float32, n)
		for i := range vals {
			switch {
			case name == bnVar:
				vals[i] = 0.5 + rng.Float32()
			case len(dims) == 1:
				vals[i] = 0.1 * float32(rng.NormFloat64())
			default:
				vals[i] = float32(rng.NormFloat64() / math.Sqrt(float64(fanIn)))
			}
		}
		if err := v.SetWeight(name, tensors.FromFlatDataAndDimensions(vals, dims...)); err != nil {
			tb.Fatal(err)
		}
	}
	return v
}

// BenchmarkDecode decodes one image on the test backend (pure Go by
// default). "official-tiny-64px" compares the two convolution algorithms;
// "published-depth-ch32-512px" has the published depth and latent layout
// (128×32×32 latents) at a quarter of the width. The large cases run only
// with FLORA_VAE_BENCH_LARGE=1 (use -benchtime=1x): "published-256px" is
// the published architecture at 256² (622 GFLOP), and
// "published-depth-ch32-1024px" decodes the transformer's 1024² latent
// layout (128×64×64, mid attention over 16,384 positions) at a quarter of
// the width. The pure-Go backend keeps freed buffers for reuse, so the
// benchmark sets a 6 GiB soft memory limit (unless GOMEMLIMIT is set): the
// 1024² case peaks near 9 GiB resident with it and over 20 GiB without.
func BenchmarkDecode(b *testing.B) {
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(6 << 30))
	}
	large := os.Getenv("FLORA_VAE_BENCH_LARGE") != ""
	reduced := FLUX2Config()
	reduced.Ch = 32
	tests := []struct {
		name  string
		cfg   Config
		grid  int
		conv  ConvAlgorithm
		large bool
	}{
		{"official-tiny-64px/gemm", OfficialTinyConfig(), 16, ConvGEMM, false},
		{"official-tiny-64px/native", OfficialTinyConfig(), 16, ConvNative, false},
		{"published-depth-ch32-512px/gemm", reduced, 32, ConvGEMM, false},
		{"published-256px/gemm", FLUX2Config(), 16, ConvGEMM, true},
		{"published-depth-ch32-1024px/gemm", reduced, 64, ConvGEMM, true},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			if tc.large && !large {
				b.Skip("set FLORA_VAE_BENCH_LARGE=1 to run (minutes, several GiB)")
			}
			v := randomVAE(b, tc.cfg, tc.conv)
			lat := randTensor(rand.New(rand.NewPCG(1, 1)), 1, tc.cfg.LatentChannels(), tc.grid, tc.grid)
			if _, err := v.Decode(lat); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Decode(lat); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
