package flux2

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flora-ml/flora/internal/tensorrand"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// benchConfig is a small FLUX.2-shaped model for CPU benchmarks.
func benchConfig() Config {
	return Config{InChannels: 64, ContextDim: 128, Hidden: 256, NumHeads: 4, Depth: 2, DepthSingle: 4,
		AxesDim: [4]int{16, 16, 16, 16}, Theta: 2000, MLPRatio: 3, GuidanceEmbed: true}
}

// randomModel returns a float32 model with RandomWeight values.
func randomModel(tb testing.TB, cfg Config, seed uint64) *Model {
	tb.Helper()
	m, err := NewRandomModel(testutil.Backend(tb), cfg, seed, dtypes.Float32)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func randomBatch(tb testing.TB, m *Model, b, h, w, l int, seed uint64) *TrainBatch {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	rnd := func(dims ...int) *tensors.Tensor { return tensorrand.Normal(rng, dims...) }
	c := m.Config
	ts := make([]float32, b)
	gs := make([]float32, b)
	for i := range ts {
		ts[i] = rng.Float32()
		gs[i] = 1 + 3*rng.Float32()
	}
	var guidance *tensors.Tensor
	if c.GuidanceEmbed {
		guidance = tensors.FromFlatDataAndDimensions(gs, b)
	}
	batch, err := m.NewBatch(rnd(b, h*w, c.InChannels), rnd(b, l, c.ContextDim), tensors.FromFlatDataAndDimensions(ts, b), guidance,
		TextIDs(b, l), ImageIDs(b, h, w, 0))
	if err != nil {
		tb.Fatal(err)
	}
	return &TrainBatch{Batch: batch, Target: rnd(b, h*w, c.InChannels)}
}

// BenchmarkForward measures one forward pass of the small config (256 image
// + 64 text tokens) and reports GFLOP/s.
func BenchmarkForward(b *testing.B) {
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
		b.Run(dt.String(), func(b *testing.B) {
			m := randomModel(b, benchConfig(), 1)
			tb := randomBatch(b, m, 1, 16, 16, 64, 2)
			if _, err := m.Forward(tb.Batch, dt); err != nil { // compile
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := m.Forward(tb.Batch, dt)
				if err != nil {
					b.Fatal(err)
				}
				out.FinalizeAll()
			}
			reportFLOPs(b, m.Config.ForwardFLOPs(1, 256, 64))
		})
	}
}

// BenchmarkForwardBackward measures loss + gradients of all base weights
// (the worst case: LoRA gradients are a small part of this), in one program
// and block-wise with recomputation.
func BenchmarkForwardBackward(b *testing.B) {
	for _, ckpt := range []bool{false, true} {
		b.Run(fmt.Sprintf("checkpointing=%v", ckpt), func(b *testing.B) {
			m := randomModel(b, benchConfig(), 1)
			for _, n := range m.VariableNames() {
				m.Variable(n).SetTrainable(true)
			}
			tb := randomBatch(b, m, 1, 16, 16, 64, 2)
			if _, err := m.LossAndGradients(tb, dtypes.Float32, ckpt); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := m.LossAndGradients(tb, dtypes.Float32, ckpt)
				if err != nil {
					b.Fatal(err)
				}
				for _, g := range res.Grads {
					g.FinalizeAll()
				}
			}
			reportFLOPs(b, 3*m.Config.ForwardFLOPs(1, 256, 64))
		})
	}
}

func reportFLOPs(b *testing.B, flops float64) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
}

// BenchmarkAttentionTrain measures one attention's forward + backward
// (RoPE, attention, gradients of q, k, v) at the small bench config's
// training shape (1024 image + 128 text tokens, 4 heads × 64), float32, for
// the plain kernel and the blocked one (automatic block, and 128, 384 and
// 1,152 = one block).
//
//	go test ./model/flux2 -run XXX -bench AttentionTrain -benchtime 5x -count 3
func BenchmarkAttentionTrain(b *testing.B) {
	c := attnCase{b: 1, txt: 128, imgH: 32, imgW: 32, heads: 4, hd: 64}
	for _, opts := range []AttentionOptions{{Kernel: AttentionPlain}, {}, {BlockQ: 128}, {BlockQ: 384}, {BlockQ: 1152}} {
		name := string(opts.KernelName())
		if opts.BlockQ > 0 {
			name += fmt.Sprintf("-%d", opts.BlockQ)
		}
		b.Run(name, func(b *testing.B) {
			in := attnInputs(b, c, 1)
			exec := MustNewExec(testutil.Backend(b), func(x []*Node) []*Node {
				out := Attention(x[0], x[1], x[2], x[3], x[4], opts)
				return Gradient(ReduceAllSum(Mul(out, x[5])), x[0], x[1], x[2])
			})
			args := []any{in[0], in[1], in[2], in[3], in[4], in[5]}
			exec.MustExec(args...) // compile
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, t := range exec.MustExec(args...) {
					t.FinalizeAll()
				}
			}
		})
	}
}
