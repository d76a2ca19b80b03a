package sample

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/flux2/flux2test"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// TestOfficialReferenceSampler runs the 4-step Euler sampler of the official
// code on the tiny model: sample_out from sample_noise over sample_schedule
// with guidance 3.5 and the transformer_io context.
func TestOfficialReferenceSampler(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	m := flux2test.Load(t, filepath.Join(dir, "transformer.safetensors"))
	io := weightstest.ReadAllF32(t, filepath.Join(dir, "transformer_io.safetensors"))
	sched := tensors.MustCopyFlatData[float32](io["sample_schedule"])
	schedule := make([]float64, len(sched))
	for i, v := range sched {
		schedule[i] = float64(v)
	}
	// The recorded schedule is the official one for 4 steps and 24 tokens.
	want, _ := Schedule(4, 24)
	for i := range want {
		if math.Abs(want[i]-schedule[i]) > 1e-6 {
			t.Fatalf("fixture schedule %v differs from Schedule(4, 24) %v", schedule, want)
		}
	}
	ctx := io["ctx"]
	b := ctx.Shape().Dim(0)
	g := make([]float32, b)
	for i := range g {
		g[i] = 3.5
	}
	ids, err := flux2.JointIDs(testutil.PositionIDs(io["ctx_ids"]), testutil.PositionIDs(io["img_ids"]))
	if err != nil {
		t.Fatal(err)
	}
	cos, sin, err := m.Config.RoPETables(ids)
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	out, err := Euler(io["sample_noise"], schedule, func(x *tensors.Tensor, tt float64) (*tensors.Tensor, error) {
		ts := make([]float32, b)
		for i := range ts {
			ts[i] = float32(tt)
		}
		return m.Forward(&flux2.Batch{X: x, Ctx: ctx, T: tensors.FromFlatDataAndDimensions(ts, b),
			Guidance: tensors.FromFlatDataAndDimensions(g, b), RoPECos: cos, RoPESin: sin}, dtypes.Float32)
	}, func(step, total int) { steps++ })
	if err != nil {
		t.Fatal(err)
	}
	if steps != 4 {
		t.Errorf("%d steps reported, want 4", steps)
	}
	testutil.CheckRelL2Tensors(t, "sampler vs official", out, io["sample_out"], 1e-4)
}
