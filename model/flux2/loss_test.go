package flux2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestMaskedFlowMatchingLoss checks the masked loss on a hand-computed
// case: 2 samples of 3 target tokens (plus one reference token, not
// scored) with 2 channels, target 0, so token n's error e_n is the mean of
// its squared outputs. Sample 0 has e = (2.5, 0, 9), sample 1 e = (2, 2, 1);
// sample b's loss is Σ m·e / Σ m, then weighted and averaged.
func TestMaskedFlowMatchingLoss(t *testing.T) {
	out := []float32{
		1, 2, 0, 0, 3, 3, 9, 9, // sample 0: e = (1+4)/2, 0, (9+9)/2; then the reference token
		2, 0, 0, 2, 1, 1, 7, 7, // sample 1: e = 2, 2, 1
	}
	target := make([]float32, 2*3*2)
	tests := []struct {
		name   string
		mask   []float32
		weight []float32 // nil: unweighted
		want   float64
	}{
		// s0: (1·2.5 + 0.5·0 + 0·9) / 1.5 = 5/3; s1: (0.25·2 + 0.25·2 + 0.5·1) / 1 = 1.5.
		{"mask", []float32{1, 0.5, 0, 0.25, 0.25, 0.5}, nil, (5.0/3 + 1.5) / 2},
		{"mask and weight", []float32{1, 0.5, 0, 0.25, 0.25, 0.5}, []float32{2, 1}, (2*5.0/3 + 1.5) / 2},
		// A mask summing to 0 contributes 0 (not NaN).
		{"empty mask", []float32{1, 0.5, 0, 0, 0, 0}, nil, (5.0/3 + 0) / 2},
		// All ones: the plain mean, (11.5/3 + 5/3) / 2.
		{"ones", []float32{1, 1, 1, 1, 1, 1}, nil, (11.5/3 + 5.0/3) / 2},
		// Scaling a sample's mask does not change its loss: s0 as "mask".
		{"scaled", []float32{0.2, 0.1, 0, 0.25, 0.25, 0.5}, nil, (5.0/3 + 1.5) / 2},
	}
	be := testutil.Backend(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []any{tensors.FromFlatDataAndDimensions(out, 2, 4, 2), tensors.FromFlatDataAndDimensions(target, 2, 3, 2),
				tensors.FromFlatDataAndDimensions(tc.mask, 2, 3)}
			if tc.weight != nil {
				args = append(args, tensors.FromFlatDataAndDimensions(tc.weight, 2))
			}
			res := MustExecOnceN(be, func(in []*Node) []*Node {
				var w *Node
				if len(in) > 3 {
					w = in[3]
				}
				return []*Node{MaskedFlowMatchingLoss(in[0], in[1], w, in[2])}
			}, args...)
			got := float64(tensors.ToScalar[float32](res[0]))
			if math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("loss %.9g, want %.9g", got, tc.want)
			}
		})
	}
	// Without a mask it is FlowMatchingLoss: the plain mean over the target.
	res := MustExecOnceN(be, func(in []*Node) []*Node { return []*Node{MaskedFlowMatchingLoss(in[0], in[1], nil, nil)} },
		tensors.FromFlatDataAndDimensions(out, 2, 4, 2), tensors.FromFlatDataAndDimensions(target, 2, 3, 2))
	if got, want := float64(tensors.ToScalar[float32](res[0])), (11.5/3+5.0/3)/2; math.Abs(got-want) > 1e-6 {
		t.Errorf("unmasked loss %.9g, want %.9g", got, want)
	}
}

// TestMaskedLossExecutionPaths: a masked, weighted batch gives the same
// loss and gradients in the whole-graph step, the block-wise step and (on a
// backend with 2+ devices) both steps split over 2 devices (rel L2 ≤ 1e-5);
// the mask changes the loss, and a mask of ones gives the unmasked loss.
func TestMaskedLossExecutionPaths(t *testing.T) {
	trainable := []string{"double_blocks.0.img_attn.qkv.weight", "single_blocks.1.linear1.weight", "final_layer.linear.weight"}
	ref := parallelModel(t, trainable, ParallelOptions{})
	tb := randomBatch(t, ref, 2, 3, 4, 4, 11)
	tb.Weight = tensors.FromFlatDataAndDimensions([]float32{0.5, 2}, 2)
	rng := rand.New(rand.NewPCG(5, 6))
	mask := make([]float32, 2*12)
	for i := range mask {
		mask[i] = 0.1 + 0.9*float32(rng.IntN(2)) // mask_min 0.1, half the tokens inside
	}
	masked := *tb
	masked.Mask = tensors.FromFlatDataAndDimensions(mask, 2, 12)
	want, err := ref.LossAndGradients(&masked, dtypes.Float32, false)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ref.LossAndGradients(tb, dtypes.Float32, false)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(want.Loss-plain.Loss)) < 1e-4*math.Abs(float64(plain.Loss)) {
		t.Errorf("masked loss %.6g equals the unmasked %.6g: the mask is not used", want.Loss, plain.Loss)
	}
	ones := *tb
	ones.Mask = tensors.FromFlatDataAndDimensions(make1(24), 2, 12)
	g1, err := ref.LossAndGradients(&ones, dtypes.Float32, false)
	if err != nil {
		t.Fatal(err)
	}
	if e := testutil.RelL2([]float32{g1.Loss}, []float32{plain.Loss}); e > 1e-6 {
		t.Errorf("mask of ones: loss %.9g, unmasked %.9g", g1.Loss, plain.Loss)
	}
	t.Logf("loss unmasked %.6f, masked %.6f", plain.Loss, want.Loss)

	type path struct {
		p             ParallelOptions
		checkpointing bool
	}
	cases := []path{{ParallelOptions{}, true}}
	if testutil.Backend(t).NumDevices() >= 2 {
		cases = append(cases, path{ParallelOptions{Devices: 2}, false}, path{ParallelOptions{Devices: 2}, true})
	} else {
		t.Logf("backend has 1 device: the split steps are not run (FLORA_TEST_BACKEND=xla:cpu gives 4)")
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%+v/checkpointing=%v", c.p, c.checkpointing), func(t *testing.T) {
			m := parallelModel(t, trainable, c.p)
			checkParallelSteps(t, m, []*TrainBatch{&masked}, []*Gradients{want}, c.checkpointing)
		})
	}
	bad := *tb
	bad.Mask = tensors.FromFlatDataAndDimensions(make1(12), 1, 12)
	if _, err := ref.LossAndGradients(&bad, dtypes.Float32, false); err == nil || !strings.Contains(err.Error(), "loss mask of dimensions [1 12], want [2 12]") {
		t.Errorf("mask of the wrong shape: error %v", err)
	}
}

func make1(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = 1
	}
	return out
}
