package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/weights"
)

// TestModelExportCLI: `flora model export` writes both layouts, names the
// path to load, and refuses a non-empty folder and a model on disk.
func TestModelExportCLI(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ layout, load string }{
		{"diffusers", filepath.Join(dir, "diffusers")},
		{"official", filepath.Join(dir, "official", bundle.ExportOfficialFile)},
	} {
		out := filepath.Join(dir, tc.layout)
		code, stdout, errs := runCLI(t, "model", "export", "embedded:tiny", "--backend", "go", "--layout", tc.layout, "--out", out)
		if code != 0 || !strings.Contains(stdout, "--model "+tc.load) {
			t.Fatalf("export %s: exit %d\n%s%s", tc.layout, code, stdout, errs)
		}
		if _, err := os.Stat(tc.load); err != nil {
			t.Errorf("export %s: %v", tc.layout, err)
		}
	}
	for _, f := range []string{"model_index.json", "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
		"vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
		"tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, "diffusers", f)); err != nil {
			t.Errorf("diffusers export lacks %s", f)
		}
	}
	out := filepath.Join(dir, "diffusers")
	code, _, errs := runCLI(t, "model", "export", "embedded:tiny", "--backend", "go", "--out", out)
	if code == 0 || !strings.Contains(errs, out+" exists and is not empty") {
		t.Errorf("export into a non-empty folder: exit %d\n%s", code, errs)
	}
	for _, args := range [][]string{
		{"model", "export", "/some/model.safetensors", "--out", filepath.Join(dir, "x")},
		{"model", "export", "embedded:tiny", "--layout", "comfy", "--out", filepath.Join(dir, "x")},
		{"model", "export", "embedded:tiny"},
	} {
		if code, _, errs := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errs)
		}
	}
}

// TestLoRAMergeEmbedded: `flora lora merge --base embedded:tiny` writes an
// official-layout file whose merged weights are the built-in model's plus
// the adapter's update.
func TestLoRAMergeEmbedded(t *testing.T) {
	v := bundle.EmbeddedTinyVariant()
	targets, err := lora.Spec{Preset: lora.PresetAll, Rank: 2, Alpha: 2}.Plan(v.Config)
	if err != nil {
		t.Fatal(err)
	}
	a := lora.NewAdapter(targets, 3)
	for _, m := range a.Modules() {
		for _, p := range a.Layers[m] {
			for i := range p.Up {
				p.Up[i] = float32(i%7) * 0.01
			}
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "a.safetensors")
	if err := lora.Save(file, a, lora.FormatComfy, lora.Meta{Variant: v}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged.safetensors")
	code, stdout, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", "embedded:tiny", "--lora", file+":0.5", "--out", out)
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout, errs)
	}
	base, err := bundle.LoadEmbedded(testutil.Backend(t), "embedded:tiny", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := weights.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	const module = "double_blocks.0.img_attn.qkv"
	got, err := ck.ReadAs(module+".weight", dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	bw, err := base.Transformer.Variable(module + ".weight").Value()
	if err != nil {
		t.Fatal(err)
	}
	want := tensors.MustCopyFlatData[float32](bw)
	delta := a.Layers[module][0].DeltaRows(0.5)
	for i := range want {
		want[i] += delta[i]
	}
	testutil.CheckRelL2(t, "merged "+module, tensors.MustCopyFlatData[float32](got), want, 1e-6)
	code, _, errs = runCLI(t, "lora", "merge", "--backend", "go", "--base", "embedded:tiny", "--lora", file, "--out", filepath.Join(dir, "folder"))
	if code != 2 || !strings.Contains(errs, "give --out FILE.safetensors") {
		t.Errorf("merge embedded:tiny into a folder: exit %d\n%s", code, errs)
	}
}
