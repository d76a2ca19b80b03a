package sample

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// TestOfficialReferenceSampler runs the 4-step Euler sampler of the official
// code on the tiny model: sample_out from sample_noise over sample_schedule
// with guidance 3.5 and the transformer_io context.
func TestOfficialReferenceSampler(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	m, err := flux2.Load(testutil.Backend(t), filepath.Join(dir, "transformer.safetensors"), flux2.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	io, err := weights.Open(filepath.Join(dir, "transformer_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer io.Close()
	get := func(name string) *tensors.Tensor {
		v, err := io.TensorAs(name, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sched := tensors.MustCopyFlatData[float32](get("sample_schedule"))
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
	ctx, ctxIDs, imgIDs := get("ctx"), get("ctx_ids"), get("img_ids")
	b := ctx.Shape().Dim(0)
	g := make([]float32, b)
	for i := range g {
		g[i] = 3.5
	}
	ids, err := flux2.JointIDs(idsOf(ctxIDs), idsOf(imgIDs))
	if err != nil {
		t.Fatal(err)
	}
	cos, sin, err := m.Config.RoPETables(ids)
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	out, err := Euler(get("sample_noise"), schedule, func(x *tensors.Tensor, tt float64) (*tensors.Tensor, error) {
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
	e := relL2(tensors.MustCopyFlatData[float32](out), tensors.MustCopyFlatData[float32](get("sample_out")))
	t.Logf("sampler relative L2 error vs official: %.3g", e)
	if e > 1e-4 {
		t.Errorf("relative L2 error %.3g > 1e-4", e)
	}
}

func idsOf(t *tensors.Tensor) [][][4]float64 {
	dims := t.Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](t)
	out := make([][][4]float64, dims[0])
	for b := range out {
		out[b] = make([][4]float64, dims[1])
		for l := range out[b] {
			for k := 0; k < 4; k++ {
				out[b][l][k] = float64(flat[(b*dims[1]+l)*4+k])
			}
		}
	}
	return out
}

func relL2(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}
