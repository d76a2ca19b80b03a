package flux2

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// officialTinyModel loads the tiny official transformer with float32 weights.
func officialTinyModel(t *testing.T, dir string) *Model {
	t.Helper()
	m, err := NewModel(testutil.Backend(t), TinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range weightstest.ReadF32(t, filepath.Join(dir, "transformer.safetensors")) {
		if err := m.SetWeight(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if missing := m.MissingWeights(); len(missing) > 0 {
		t.Fatalf("missing weights: %v", missing)
	}
	return m
}

// referenceBatch builds the transformer_io inputs; x overrides the "img" input when non-nil.
func referenceBatch(t *testing.T, m *Model, io map[string]*tensors.Tensor, x, tt *tensors.Tensor) *Batch {
	t.Helper()
	if x == nil {
		x = io["img"]
	}
	if tt == nil {
		tt = io["timesteps"]
	}
	b, err := m.NewBatch(x, io["ctx"], tt, io["guidance"], testutil.PositionIDs(io["ctx_ids"]), testutil.PositionIDs(io["img_ids"]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOfficialReferenceForward(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	m := officialTinyModel(t, dir)
	io := weightstest.ReadF32(t, filepath.Join(dir, "transformer_io.safetensors"))
	out, err := m.Forward(referenceBatch(t, m, io, nil, nil), dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckRelL2Tensors(t, "forward vs official", out, io["out"], 1e-4)
}

// TestOfficialReferenceTrainingGradients checks the flow-matching loss and
// the gradients of the base weights the fixture records, in both execution
// modes (one program, and per-block programs with recomputation).
func TestOfficialReferenceTrainingGradients(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	io := weightstest.ReadF32(t, filepath.Join(dir, "transformer_io.safetensors"))
	for _, checkpointing := range []bool{false, true} {
		name := "whole"
		if checkpointing {
			name = "blockwise"
		}
		t.Run(name, func(t *testing.T) {
			m := officialTinyModel(t, dir)
			var gradNames []string
			for k := range io {
				if w, ok := strings.CutPrefix(k, "fm_grad_"); ok {
					gradNames = append(gradNames, w)
					m.Variable(w).SetTrainable(true)
				}
			}
			if len(gradNames) != 3 {
				t.Fatalf("fixture has %d fm_grad_* tensors, want 3", len(gradNames))
			}
			x0, noise, tt := io["fm_x0"], io["fm_noise"], io["fm_t"]
			xt, target := flowMatchingPair(t, x0, noise, tt)
			tb := &TrainBatch{Batch: referenceBatch(t, m, io, xt, tt), Target: target}
			res, err := m.LossAndGradients(tb, dtypes.Float32, checkpointing)
			if err != nil {
				t.Fatal(err)
			}
			wantLoss := tensors.MustCopyFlatData[float32](io["fm_loss"])[0]
			if d := math.Abs(float64(res.Loss-wantLoss)) / float64(wantLoss); d > 1e-5 {
				t.Errorf("loss %.8g, want %.8g (rel %.3g)", res.Loss, wantLoss, d)
			}
			for _, w := range gradNames {
				e := testutil.RelL2Tensors(t, res.Grads[w], io["fm_grad_"+w])
				t.Logf("grad %s relative L2 error %.3g", w, e)
				if e > 1e-4 {
					t.Errorf("grad %s relative L2 error %.3g > 1e-4", w, e)
				}
			}
		})
	}
}

// flowMatchingPair returns x_t = (1−t)·x0 + t·noise and the target noise − x0.
func flowMatchingPair(t *testing.T, x0, noise, tt *tensors.Tensor) (xt, target *tensors.Tensor) {
	t.Helper()
	dims := x0.Shape().Dimensions
	a := tensors.MustCopyFlatData[float32](x0)
	n := tensors.MustCopyFlatData[float32](noise)
	ts := tensors.MustCopyFlatData[float32](tt)
	per := len(a) / dims[0]
	xs := make([]float32, len(a))
	tg := make([]float32, len(a))
	for i := range a {
		s := ts[i/per]
		xs[i] = (1-s)*a[i] + s*n[i]
		tg[i] = n[i] - a[i]
	}
	return tensors.FromFlatDataAndDimensions(xs, dims...), tensors.FromFlatDataAndDimensions(tg, dims...)
}
