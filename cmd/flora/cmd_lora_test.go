package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// needFixture returns the path of an official tiny fixture file.
func needFixture(t *testing.T, name string) string {
	t.Helper()
	return testutil.ReferenceFile(t, name)
}

// convertRoundTrip converts a LoRA file to diffusers and back to comfy with
// the CLI and returns the path of the final file.
func convertRoundTrip(t *testing.T, file string) string {
	t.Helper()
	dir := t.TempDir()
	mid, back := filepath.Join(dir, "d.safetensors"), filepath.Join(dir, "c.safetensors")
	for _, args := range [][]string{{"lora", "convert", file, "--to", "diffusers", "--out", mid}, {"lora", "convert", mid, "--to", "comfy", "--out", back}} {
		if code, _, errs := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errs)
		}
	}
	return back
}

// TestLoRAInspectFixture: the official fixture is 20 targets of rank 4,
// alpha 8, on the tiny model.
func TestLoRAInspectFixture(t *testing.T) {
	file := needFixture(t, "lora.safetensors")
	code, out, errs := runCLI(t, "lora", "inspect", "--json", file)
	if code != 0 {
		t.Fatalf("inspect exit %d: %s", code, errs)
	}
	var rep loraReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Targets != 20 || rep.Format != "comfy" || !strings.HasPrefix(rep.Base, "tiny") {
		t.Errorf("report %+v", rep)
	}
	for _, g := range rep.Groups {
		if len(g.Ranks) != 1 || g.Ranks[0] != 4 || len(g.Alphas) != 1 || g.Alphas[0] != "8" {
			t.Errorf("group %s: ranks %v alphas %v", g.Group, g.Ranks, g.Alphas)
		}
	}
	code, out, _ = runCLI(t, "lora", "inspect", file)
	if code != 0 || !strings.Contains(out, "Targets:    20 layers") {
		t.Errorf("table output:\n%s", out)
	}
}

// TestLoRAConvertRoundTrip: comfy → diffusers → comfy through the CLI gives
// identical A factors and the same updates ΔW (the diffusers file folds
// alpha/rank into B, so B and alpha come back as scale·B and rank).
func TestLoRAConvertRoundTrip(t *testing.T) {
	file := needFixture(t, "lora.safetensors")
	back := convertRoundTrip(t, file)
	weightstest.CheckSameStored(t, file, back, isFoldedName)
	checkSameUpdates(t, file, back)
}

// isFoldedName selects the tensors the diffusers format rewrites (B holds
// the scale, alpha becomes the rank).
func isFoldedName(n string) bool {
	return strings.HasSuffix(n, ".alpha") || strings.HasSuffix(n, ".lora_B.weight")
}

// checkSameUpdates checks that two LoRA files apply the same updates
// ΔW = (alpha/rank)·B·A to the same modules.
func checkSameUpdates(t *testing.T, a, b string) {
	t.Helper()
	x, _, _, err := lora.Load(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	y, _, _, err := lora.Load(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Modules(), y.Modules()) {
		t.Fatalf("modules %v, want %v", y.Modules(), x.Modules())
	}
	for _, m := range x.Modules() {
		px, py := x.Layers[m], y.Layers[m]
		if len(px) != 1 || len(py) != 1 {
			t.Fatalf("%s: %d and %d parts", m, len(px), len(py))
		}
		if e := testutil.RelL2(py[0].DeltaRows(1), px[0].DeltaRows(1)); e > 1e-6 {
			t.Errorf("%s: ΔW moved by relative L2 %.3g", m, e)
		}
	}
}

// TestLoRAMergeAndResize: the merged checkpoint's forward equals the base
// with the adapter attached; resize to the same rank keeps all energy.
func TestLoRAMergeAndResize(t *testing.T) {
	model := needFixture(t, "transformer.safetensors")
	file := needFixture(t, "lora.safetensors")
	out := filepath.Join(t.TempDir(), "merged.safetensors")
	code, _, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", model, "--lora", file+":0.5", "--out", out)
	if code != 0 {
		t.Fatalf("merge exit %d: %s", code, errs)
	}
	be := testutil.Backend(t)
	merged, err := flux2.Load(be, out, flux2.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	attached, err := flux2.Load(be, model, flux2.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _, err := lora.Load(file, &attached.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := lora.Attach(attached, a, 0.5, false); err != nil {
		t.Fatal(err)
	}
	wave := func(n int, f float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(f * float64(i+1)))
		}
		return v
	}
	x := tensors.FromFlatDataAndDimensions(wave(2*6*16, 0.7), 2, 6, 16)
	ctx := tensors.FromFlatDataAndDimensions(wave(2*3*40, 1.3), 2, 3, 40)
	ts := tensors.FromFlatDataAndDimensions([]float32{0.5, 0.9}, 2)
	g := tensors.FromFlatDataAndDimensions([]float32{3, 3}, 2)
	run := func(m *flux2.Model) []float32 {
		b, err := m.NewBatch(x, ctx, ts, g, flux2.TextIDs(2, 3), flux2.ImageIDs(2, 2, 3, 0))
		if err != nil {
			t.Fatal(err)
		}
		o, err := m.Forward(b, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](o)
	}
	p, q := run(merged), run(attached)
	for i := range p {
		if d := p[i] - q[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("merged forward differs at %d: %g vs %g", i, p[i], q[i])
		}
	}
	code, stdout, errs := runCLI(t, "lora", "resize", file, "--rank", "4", "--out", filepath.Join(t.TempDir(), "r.safetensors"))
	if code != 0 || !strings.Contains(stdout, "1.0000") {
		t.Errorf("resize: exit %d\n%s%s", code, stdout, errs)
	}
}
