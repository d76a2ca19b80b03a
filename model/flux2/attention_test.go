package flux2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// attnCase is one joint text+image attention problem.
type attnCase struct {
	b, txt, imgH, imgW, heads, hd int
}

func (c attnCase) seq() int { return c.txt + c.imgH*c.imgW }

// attnInputs returns random q, k, v [B, L, H, hd] (q scaled up so the
// softmax is peaked, as trained models' are), the real FLUX.2 RoPE tables of
// the joint sequence, and a random cotangent w [B, L, H·hd].
func attnInputs(t testing.TB, c attnCase, seed uint64) []*tensors.Tensor {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	l := c.seq()
	rnd := func(scale float64, dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(scale * rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	a := c.hd / 4
	cfg := Config{InChannels: 4, ContextDim: 4, Hidden: c.heads * c.hd, NumHeads: c.heads, AxesDim: [4]int{a, a, a, a}, Theta: 2000, MLPRatio: 3}
	ids, err := JointIDs(TextIDs(c.b, c.txt), ImageIDs(c.b, c.imgH, c.imgW, 0))
	if err != nil {
		t.Fatal(err)
	}
	cos, sin, err := cfg.RoPETables(ids)
	if err != nil {
		t.Fatal(err)
	}
	return []*tensors.Tensor{
		rnd(2.5, c.b, l, c.heads, c.hd), rnd(1, c.b, l, c.heads, c.hd), rnd(1, c.b, l, c.heads, c.hd),
		cos, sin, rnd(1, c.b, l, c.heads*c.hd),
	}
}

// attnValueAndGrads runs Attention in dtype with opts and returns, in
// float32, its output and the gradients of Σ out∘w with respect to q, k, v.
func attnValueAndGrads(t *testing.T, in []*tensors.Tensor, dtype dtypes.DType, opts AttentionOptions) []*tensors.Tensor {
	t.Helper()
	return MustExecOnceN(testutil.Backend(t), func(x []*Node) []*Node {
		q, k, v := ConvertDType(x[0], dtype), ConvertDType(x[1], dtype), ConvertDType(x[2], dtype)
		out := Attention(q, k, v, x[3], x[4], opts)
		loss := ReduceAllSum(Mul(ConvertDType(out, dtypes.Float32), x[5]))
		res := []*Node{ConvertDType(out, dtypes.Float32)}
		for _, g := range Gradient(loss, q, k, v) {
			res = append(res, ConvertDType(g, dtypes.Float32))
		}
		return res
	}, in[0], in[1], in[2], in[3], in[4], in[5])
}

var attnOutputNames = []string{"out", "dq", "dk", "dv"}

// TestBlockedAttentionMatchesPlain compares the blocked kernel with the
// plain (reference) attention, values and gradients, on joint text+image
// sequences whose lengths the block size does not divide.
func TestBlockedAttentionMatchesPlain(t *testing.T) {
	tests := []struct {
		name   string
		c      attnCase
		blockQ int
	}{
		{"37 tokens, blocks of 8", attnCase{b: 1, txt: 5, imgH: 4, imgW: 8, heads: 2, hd: 8}, 8},
		{"batch 2, 23 tokens, blocks of 10", attnCase{b: 2, txt: 3, imgH: 4, imgW: 5, heads: 3, hd: 16}, 10},
		{"one block (automatic)", attnCase{b: 1, txt: 7, imgH: 3, imgW: 3, heads: 2, hd: 8}, 0},
		{"last block of one row", attnCase{b: 1, txt: 2, imgH: 3, imgW: 5, heads: 2, hd: 8}, 16},
		{"one row per block", attnCase{b: 1, txt: 2, imgH: 2, imgW: 3, heads: 1, hd: 8}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := attnInputs(t, tc.c, 1)
			want := attnValueAndGrads(t, in, dtypes.Float32, AttentionOptions{Kernel: AttentionPlain})
			got := attnValueAndGrads(t, in, dtypes.Float32, AttentionOptions{BlockQ: tc.blockQ})
			for i, name := range attnOutputNames {
				e := testutil.RelL2Tensors(t, got[i], want[i])
				t.Logf("%s relative L2 error %.3g", name, e)
				if e > 1e-5 {
					t.Errorf("%s relative L2 error %.3g > 1e-5", name, e)
				}
			}
		})
	}
}

// TestBlockedAttentionBFloat16 checks the blocked kernel in bfloat16 against
// the float32 reference: its error must be of the plain bf16 attention's
// order (both round the logits and probabilities to bf16).
func TestBlockedAttentionBFloat16(t *testing.T) {
	c := attnCase{b: 1, txt: 5, imgH: 4, imgW: 8, heads: 2, hd: 16}
	in := attnInputs(t, c, 2)
	ref := attnValueAndGrads(t, in, dtypes.Float32, AttentionOptions{Kernel: AttentionPlain})
	plain := attnValueAndGrads(t, in, dtypes.BFloat16, AttentionOptions{Kernel: AttentionPlain})
	blocked := attnValueAndGrads(t, in, dtypes.BFloat16, AttentionOptions{BlockQ: 8})
	for i, name := range attnOutputNames {
		eb, ep := testutil.RelL2Tensors(t, blocked[i], ref[i]), testutil.RelL2Tensors(t, plain[i], ref[i])
		t.Logf("%s relative L2 error vs f32: blocked bf16 %.3g, plain bf16 %.3g", name, eb, ep)
		if eb > 3e-2 || eb > 2*ep+5e-3 {
			t.Errorf("%s: blocked bf16 error %.3g (plain bf16 %.3g) exceeds 3e-2 or 2×plain+5e-3", name, eb, ep)
		}
	}
}

// squareAttnNodes returns the descriptions of the graph nodes with two axes
// of size l (a per-head [L, L] tensor).
func squareAttnNodes(g *Graph, l int) []string {
	var out []string
	for _, n := range g.Nodes() {
		if n.NumOutputs() != 1 {
			continue
		}
		count := 0
		for _, d := range n.Shape().Dimensions {
			if d == l {
				count++
			}
		}
		if count >= 2 {
			out = append(out, fmt.Sprintf("%s %s", n.Type(), n.Shape()))
		}
	}
	return out
}

// TestBlockedAttentionHasNoSquareTensor builds attention and its gradient
// and checks that no node of the blocked graph holds an [L, L] tensor per
// head (the plain one does: the check is not vacuous).
func TestBlockedAttentionHasNoSquareTensor(t *testing.T) {
	c := attnCase{b: 1, txt: 5, imgH: 4, imgW: 8, heads: 2, hd: 8}
	l := c.seq()
	for _, tc := range []struct {
		opts       AttentionOptions
		wantSquare bool
	}{
		{AttentionOptions{BlockQ: 8}, false},
		{AttentionOptions{Kernel: AttentionPlain}, true},
	} {
		g := NewGraph(testutil.Backend(t), "attention")
		qkv := shapes.Make(dtypes.Float32, c.b, l, c.heads, c.hd)
		tab := shapes.Make(dtypes.Float32, c.b, l, c.hd/2)
		q, k, v := Parameter(g, "q", qkv), Parameter(g, "k", qkv), Parameter(g, "v", qkv)
		out := Attention(q, k, v, Parameter(g, "cos", tab), Parameter(g, "sin", tab), tc.opts)
		Gradient(ReduceAllSum(out), q, k, v)
		square := squareAttnNodes(g, l)
		g.Finalize()
		if tc.wantSquare != (len(square) > 0) {
			t.Errorf("%+v: [L, L] nodes %v, want some: %v", tc.opts, square, tc.wantSquare)
		}
	}
}

// TestWithCustomVJP checks the multi-input custom gradient: the value is
// exactly the forward's, each input receives its own gradient from the
// hand-written backward (deliberately not the true one), and the backward
// is built once.
func TestWithCustomVJP(t *testing.T) {
	calls := 0
	outs := MustExecOnceN(testutil.Backend(t), func(x, y, w *Node) []*Node {
		out := Mul(StopGradient(x), StopGradient(y))
		res := withCustomVJP(out, []*Node{x, y}, func(dOut *Node) []*Node {
			calls++
			return []*Node{MulScalar(dOut, 2), MulScalar(dOut, 3)}
		})
		grads := Gradient(ReduceAllSum(Mul(res, w)), x, y)
		return []*Node{res, grads[0], grads[1]}
	}, []float32{1.5, -2, 3e-8}, []float32{4, 0.25, -7}, []float32{1, 10, 100})
	tests := []struct {
		name string
		want []float32
	}{
		{"value", []float32{6, -0.5, -2.1e-7}},
		{"dx", []float32{2, 20, 200}},
		{"dy", []float32{3, 30, 300}},
	}
	for i, tc := range tests {
		got := tensors.MustCopyFlatData[float32](outs[i])
		for j := range tc.want {
			if got[j] != tc.want[j] {
				t.Errorf("%s[%d] = %g, want %g", tc.name, j, got[j], tc.want[j])
			}
		}
	}
	if calls != 1 {
		t.Errorf("backward built %d times, want 1", calls)
	}
}

// TestAutoQueryBlock checks the automatic block sizes: whole sequences when
// the [B, H, S, S] logits fit the budget, else aligned blocks that fit it,
// never more than maxAttentionBlocks.
func TestAutoQueryBlock(t *testing.T) {
	tests := []struct {
		name          string
		budget        int64
		b, h, s, want int
	}{
		{"tiny model", attentionBudgetXLACPU, 1, 3, 96, 96},
		{"small bench 1024+128, pure Go: one block", attentionBudgetGo, 1, 4, 1152, 1152},
		{"small bench 1024+128, XLA CPU", attentionBudgetXLACPU, 1, 4, 1152, 192},         // 6 blocks
		{"small bench 4096+64, XLA CPU (capped)", attentionBudgetXLACPU, 1, 4, 4160, 192}, // 22 blocks
		{"small bench 9216+64, XLA CPU (capped)", attentionBudgetXLACPU, 1, 4, 9280, 320}, // 29 blocks
		{"small bench 9216+64, pure Go (capped)", attentionBudgetGo, 1, 4, 9280, 320},     // 29 blocks
		{"dev 1024² on a GPU", attentionBudgetGPU, 1, 48, 4608, 256},                      // 18 blocks
		{"short sequence never split", 1, 1, 48, 64, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := autoQueryBlock(tc.budget, tc.b, tc.h, tc.s)
			if got != tc.want {
				t.Errorf("autoQueryBlock = %d, want %d", got, tc.want)
			}
			n := (tc.s + got - 1) / got
			if n > maxAttentionBlocks || (got != tc.s && got%attentionBlockAlign != 0) {
				t.Errorf("%d blocks of %d rows: more than %d blocks or unaligned", n, got, maxAttentionBlocks)
			}
			capped := got == alignUp((tc.s+maxAttentionBlocks-1)/maxAttentionBlocks, attentionBlockAlign)
			if bytes := int64(tc.b*tc.h*got*tc.s) * 4; bytes > tc.budget && got != tc.s && !capped {
				t.Errorf("block logits %d bytes exceed the budget %d", bytes, tc.budget)
			}
		})
	}
	// Budgets by backend.
	for _, tc := range []struct {
		name, description string
		want              int64
	}{
		{"SimpleGo (go)", "Simple Go Portable Backend", attentionBudgetGo},
		{"xla", "xla:cpu - PJRT \"cpu\" plugin [1 device(s)]", attentionBudgetXLACPU},
		{"xla", "xla:cuda - PJRT \"cuda\" plugin [1 device(s)]", attentionBudgetGPU},
		{"xla", "xla:/venv/jax_plugins/xla_cuda13/xla_cuda_plugin.so - PJRT plugin", attentionBudgetGPU},
	} {
		if got := budgetFor(tc.name, tc.description); got != tc.want {
			t.Errorf("budgetFor(%q, %q) = %d, want %d", tc.name, tc.description, got, tc.want)
		}
	}
	// An explicit block size wins, capped at the sequence.
	be := testutil.Backend(t)
	if got := (AttentionOptions{BlockQ: 100}).QueryBlock(be, 1, 4, 9280); got != 100 {
		t.Errorf("BlockQ 100: got %d", got)
	}
	if got := (AttentionOptions{BlockQ: 100}).QueryBlock(be, 1, 4, 37); got != 37 {
		t.Errorf("BlockQ 100 over 37 tokens: got %d", got)
	}
}

// TestAttentionOptionsValidate checks that bad options are refused with a
// message naming the setting, by Validate and by the model's programs.
func TestAttentionOptionsValidate(t *testing.T) {
	tests := []struct {
		opts    AttentionOptions
		wantErr string
	}{
		{AttentionOptions{}, ""},
		{AttentionOptions{Kernel: AttentionPlain}, ""},
		{AttentionOptions{Kernel: AttentionBlocked, BlockQ: 64}, ""},
		{AttentionOptions{Kernel: "flash"}, `attention kernel "flash" is not "blocked" or "plain"`},
		{AttentionOptions{BlockQ: -1}, "attention query block -1 must be >= 0"},
	}
	for _, tc := range tests {
		err := tc.opts.Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.wantErr)
		}
	}
	m := randomModel(t, TinyConfig(), 1)
	m.Attention = AttentionOptions{Kernel: "flash"}
	tb := randomBatch(t, m, 1, 2, 2, 3, 1)
	if _, err := m.Forward(tb.Batch, dtypes.Float32); err == nil || !strings.Contains(err.Error(), `attention kernel "flash"`) {
		t.Errorf("Forward with a bad kernel: error %v", err)
	}
}

// TestModelAttentionKernels runs the tiny model's loss and gradients with the
// plain kernel and with small query blocks (the reference tests use the
// default, one block at the tiny size) and compares them, in one program and
// block-wise: the options reach every program and agree.
func TestModelAttentionKernels(t *testing.T) {
	for _, ckpt := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpointing=%v", ckpt), func(t *testing.T) {
			m := randomModel(t, TinyConfig(), 3)
			for _, n := range []string{"double_blocks.0.img_attn.qkv.weight", "single_blocks.1.linear1.weight", "double_blocks.1.txt_attn.qkv.weight"} {
				m.Variable(n).SetTrainable(true)
			}
			tb := randomBatch(t, m, 1, 3, 5, 4, 4) // 15 image + 4 text tokens
			m.Attention = AttentionOptions{Kernel: AttentionPlain}
			want, err := m.LossAndGradients(tb, dtypes.Float32, ckpt)
			if err != nil {
				t.Fatal(err)
			}
			m.Attention = AttentionOptions{BlockQ: 4}
			got, err := m.LossAndGradients(tb, dtypes.Float32, ckpt)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(got.Loss-want.Loss)) / math.Abs(float64(want.Loss)); d > 1e-6 {
				t.Errorf("loss %.8g, plain %.8g", got.Loss, want.Loss)
			}
			for n, g := range want.Grads {
				if e := testutil.RelL2Tensors(t, got.Grads[n], g); e > 1e-5 {
					t.Errorf("grad %s relative L2 error %.3g > 1e-5", n, e)
				}
			}
		})
	}
}

// TestAfterKeepsValues checks the block-sequencing dependency: x comes back
// bit-identical when the dependencies are finite, and a NaN or infinite
// dependency changes x by at most 1e-30 instead of spreading to it.
func TestAfterKeepsValues(t *testing.T) {
	x := []float32{1.5, -2, 0, 3e-8}
	tests := []struct {
		name string
		dep  []float32
		tol  float64
	}{
		{"finite", []float32{7, math.MaxFloat32}, 0},
		{"NaN", []float32{float32(math.NaN()), 1}, 2e-30},
		{"infinite", []float32{float32(math.Inf(-1)), 1}, 2e-30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
				outs := MustExecOnceN(testutil.Backend(t), func(x, d *Node) []*Node {
					xd := ConvertDType(x, dtype)
					return []*Node{ConvertDType(after(xd, Reshape(d, 2, 1)), dtypes.Float32), ConvertDType(xd, dtypes.Float32)}
				}, x, tc.dep)
				got, want := tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
				for i := range x {
					if d := math.Abs(float64(got[i] - want[i])); d > tc.tol || math.IsNaN(float64(got[i])) {
						t.Errorf("%s: x[%d] = %g, want %g", dtype, i, got[i], want[i])
					}
				}
			}
		})
	}
}
