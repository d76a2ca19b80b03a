package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/flux2/flux2test"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// diffusersTestdata is the repository's diffusers-parity fixture folder.
var diffusersTestdata = filepath.Join("..", "..", "testdata", "diffusers")

// TestLoRAMergeDiffusersLayout: merging the diffusers PEFT fixture (written
// by diffusers' save_lora_weights) into the diffusers-layout tiny model
// writes a diffusers-layout checkpoint with the base's tensor names and
// dtype, whose forward pass reproduces diffusers' own output with the LoRA
// active.
func TestLoRAMergeDiffusersLayout(t *testing.T) {
	base := filepath.Join(diffusersTestdata, "flux2-tiny-dev")
	loraDir := filepath.Join(diffusersTestdata, "flux2-tiny-dev-lora")
	out := filepath.Join(t.TempDir(), "merged.safetensors")
	code, stdout, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", base, "--lora", filepath.Join(loraDir, "lora.safetensors"), "--out", out)
	if code != 0 {
		t.Fatalf("merge exit %d: %s%s", code, stdout, errs)
	}
	merged := weightstest.Open(t, out)
	baseCk, err := weights.OpenCheckpoint(filepath.Join(base, "transformer"))
	if err != nil {
		t.Fatal(err)
	}
	defer baseCk.Close()
	if l := weights.DetectLayout(merged.Names()).Kind; l != weights.LayoutFlux2Diffusers {
		t.Errorf("merged layout %s, want the base's diffusers layout", l)
	}
	got, want := merged.Names(), baseCk.Names()
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("merged has %d tensors, base %d", len(got), len(want))
	}
	for i := range got {
		mi, _ := merged.Info(got[i])
		bi, _ := baseCk.Info(want[i])
		if got[i] != want[i] || mi.DType != bi.DType {
			t.Fatalf("merged tensor %s %s, base %s %s", got[i], mi.DType, want[i], bi.DType)
		}
	}

	// The same merge into a diffusers model folder (transformer/ with the
	// base's config.json), as from_pretrained loads.
	folder := filepath.Join(t.TempDir(), "merged-model")
	if code, stdout, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", base, "--lora", filepath.Join(loraDir, "lora.safetensors"), "--out", folder); code != 0 {
		t.Fatalf("merge into a folder exit %d: %s%s", code, stdout, errs)
	}
	for _, f := range []string{"config.json", "diffusion_pytorch_model.safetensors"} {
		if _, err := os.Stat(filepath.Join(folder, "transformer", f)); err != nil {
			t.Errorf("merged folder: %v", err)
		}
	}
	fx, err := os.ReadFile(filepath.Join(folder, "transformer", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	fy, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fx, fy) {
		t.Error("the folder's weights differ from the single-file merge")
	}

	m := flux2test.Load(t, folder)
	y := flux2test.Forward(t, m, flux2test.IOBatch(t, m, filepath.Join(base, "io.safetensors")))
	ref := weightstest.ReadAllF32Flat(t, filepath.Join(loraDir, "io.safetensors"))["out_lora"]
	testutil.CheckRelL2(t, "merged checkpoint forward vs diffusers with the LoRA active", y, ref, 1e-4)
}

// TestLoRAMergeKeepsDType: a bf16 official checkpoint merges into a bf16
// official checkpoint: adapted weights are bf16(W + s·ΔW) (within one bf16
// step: the update is summed in float32 on the backend), all others keep
// their bytes.
func TestLoRAMergeKeepsDType(t *testing.T) {
	src := needFixture(t, "transformer.safetensors")
	loraPath := needFixture(t, "lora.safetensors")
	dir := t.TempDir()
	base := filepath.Join(dir, "base-bf16.safetensors")
	weightstest.WriteAs(t, src, base, func(string) weights.DType { return weights.BF16 }, nil)
	out := filepath.Join(dir, "merged.safetensors")
	if code, stdout, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", base, "--lora", loraPath+":0.5", "--out", out); code != 0 {
		t.Fatalf("merge exit %d: %s%s", code, stdout, errs)
	}
	bf, mf := weightstest.Open(t, base), weightstest.Open(t, out)
	if l := weights.DetectLayout(mf.Names()).Kind; l != weights.LayoutFlux2Official {
		t.Errorf("merged layout %s, want official", l)
	}
	cfg := flux2.TinyConfig()
	a, _, _, err := lora.Load(loraPath, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	baseVals, mergedVals := weightstest.ReadAllF32Flat(t, base), weightstest.ReadAllF32Flat(t, out)
	for _, n := range bf.Names() {
		info, ok := mf.Info(n)
		if !ok || info.DType != weights.BF16 {
			t.Fatalf("merged %s: %+v, want BF16", n, info)
		}
		module := n[:len(n)-len(".weight")]
		parts, adapted := a.Layers[module]
		if !adapted {
			x, _ := bf.Bytes(n)
			y, _ := mf.Bytes(n)
			if !bytes.Equal(x, y) {
				t.Errorf("%s is not adapted but changed", n)
			}
			continue
		}
		w, got := baseVals[n], mergedVals[n]
		in := parts[0].In
		for _, p := range parts {
			d := p.DeltaRows(0.5)
			for i, v := range d {
				w[p.RowOffset*in+i] += v
			}
		}
		for i := range w {
			step := math.Abs(float64(w[i])) / 128 // one bf16 step (8 significant bits)
			if math.Abs(float64(got[i]-w[i])) > step+1e-30 {
				t.Fatalf("%s[%d] = %g, want bf16 of %g", n, i, got[i], w[i])
			}
		}
	}
}

// TestLoRAConvertKeepsBF16: a bf16 ComfyUI LoRA converted to diffusers and
// back is bf16, with byte-identical A factors and the same updates.
func TestLoRAConvertKeepsBF16(t *testing.T) {
	src := needFixture(t, "lora.safetensors")
	dir := t.TempDir()
	bf16 := filepath.Join(dir, "bf16.safetensors")
	isAlpha := func(n string) bool { return filepath.Ext(n) == ".alpha" }
	weightstest.WriteAs(t, src, bf16, func(n string) weights.DType {
		if isAlpha(n) {
			return weights.F32
		}
		return weights.BF16
	}, nil)
	back := convertRoundTrip(t, bf16)
	weightstest.CheckSameStored(t, bf16, back, isFoldedName)
	checkSameUpdates(t, bf16, back)
	y, err := weights.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	for _, n := range y.Names() {
		if info, _ := y.Info(n); !isAlpha(n) && info.DType != weights.BF16 {
			t.Errorf("%s is %s after the round trip, want BF16", n, info.DType)
		}
	}
}
