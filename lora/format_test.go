package lora

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/flux2/flux2test"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// forwardWith loads a transformer, attaches a LoRA file and runs the io inputs.
func forwardWith(t *testing.T, model, loraPath, ioPath string) []float32 {
	t.Helper()
	m := flux2test.Load(t, model)
	a, _, _, err := Load(loraPath, &m.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(m, a, 1, false); err != nil {
		t.Fatal(err)
	}
	return flux2test.Forward(t, m, flux2test.IOBatch(t, m, ioPath))
}

// TestOfficialReferenceLoRA applies the official fixture's ComfyUI-named
// rank-4 LoRA (alpha 8) to the tiny model and reproduces out_lora.
func TestOfficialReferenceLoRA(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	got := forwardWith(t, filepath.Join(dir, "transformer.safetensors"), filepath.Join(dir, "lora.safetensors"), filepath.Join(dir, "transformer_io.safetensors"))
	want := tensors.MustCopyFlatData[float32](weightstest.ReadAllF32(t, filepath.Join(dir, "lora_io.safetensors"))["out_lora"])
	testutil.CheckRelL2(t, "LoRA forward vs official", got, want, 1e-4)
	a, format, warnings, err := Load(filepath.Join(dir, "lora.safetensors"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if format != FormatComfy || len(a.Layers) != 20 || len(warnings) != 0 {
		t.Errorf("format %s, %d layers, warnings %v; want comfy, 20, none", format, len(a.Layers), warnings)
	}
	for m, parts := range a.Layers {
		if len(parts) != 1 || parts[0].Rank != 4 || parts[0].Alpha != 8 {
			t.Errorf("%s: %d parts rank %d alpha %g", m, len(parts), parts[0].Rank, parts[0].Alpha)
		}
	}
}

// TestOfficialCodeAppliesTrainedLoRA: Black Forest Labs' own FLUX.2 code,
// running an adapter on the official tiny fixture, and Flora, applying the
// same adapter its own ways, give the same output. official-trained's
// adapter is what `flora train --config examples/official-tiny/train.yaml`
// wrote (trained by Flora on the fixture); official-standin's covers the
// modulation and final adaLN layers with per-layer ranks and alphas. Each
// pair holds adapter.safetensors (ComfyUI names) and
// official_out.safetensors, the official forward of transformer_io's inputs
// with it, written by tools/reference/official_lora_check.py (see its header;
// rerun it after replacing an adapter — the recorded SHA-256 must match).
func TestOfficialCodeAppliesTrainedLoRA(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	transformer := filepath.Join(dir, "transformer.safetensors")
	ioPath := filepath.Join(dir, "transformer_io.safetensors")
	const tol = 1e-5
	for _, pair := range []string{"official-standin", "official-trained"} {
		t.Run(pair, func(t *testing.T) {
			adapter := filepath.Join("testdata", pair, "adapter.safetensors")
			ref := filepath.Join("testdata", pair, "official_out.safetensors")
			meta := weightstest.Open(t, ref).Metadata()
			for file, key := range map[string]string{adapter: "lora_sha256", transformer: "transformer_sha256", ioPath: "io_sha256"} {
				if got := fileSHA256(t, file); meta[key] != got {
					t.Fatalf("%s records %s %q but %s has %s: rerun tools/reference/official_lora_check.py for this pair", ref, key, meta[key], file, got)
				}
			}
			t.Logf("official code: flux2 %s, torch %s", meta["flux2_commit"], meta["torch"])
			want := tensors.MustCopyFlatData[float32](weightstest.ReadAllF32(t, ref)["out_lora"])
			base := tensors.MustCopyFlatData[float32](weightstest.ReadAllF32(t, ioPath)["out"])
			// An adapter that barely moves the output would check nothing.
			if effect := testutil.RelL2(want, base); effect < 100*tol {
				t.Fatalf("the adapter changes the official output by only %.3g (rel L2); the comparison at %g would not see a wrong application", effect, tol)
			} else {
				t.Logf("adapter changes the output by %.3g (rel L2)", effect)
			}
			a, format, warnings, err := Load(adapter, nil)
			if err != nil {
				t.Fatal(err)
			}
			if format != FormatComfy || len(warnings) != 0 {
				t.Errorf("format %s, warnings %v; want comfy, none", format, warnings)
			}
			for _, mode := range []struct {
				name  string
				apply func(m *flux2.Model, a *Adapter) error
			}{
				{"attach", func(m *flux2.Model, a *Adapter) error { return Attach(m, a, 1, false) }},
				{"attach trainable", func(m *flux2.Model, a *Adapter) error { return Attach(m, a, 1, true) }},
				{"merge", func(m *flux2.Model, a *Adapter) error { return Merge(m, a, 1) }},
			} {
				t.Run(mode.name, func(t *testing.T) {
					m := flux2test.Load(t, transformer)
					if err := mode.apply(m, a); err != nil {
						t.Fatal(err)
					}
					got := flux2test.Forward(t, m, flux2test.IOBatch(t, m, ioPath))
					testutil.CheckRelL2(t, "Flora ("+mode.name+") vs official code", got, want, tol)
				})
			}
		})
	}
}

// TestDiffusersPEFTParity loads a LoRA saved by diffusers' own
// save_lora_weights (tools/reference/flux2_lora.py: per-module ranks and
// alphas, independent A for to_q/to_k/to_v) onto the diffusers-layout model
// and reproduces diffusers' output.
func TestDiffusersPEFTParity(t *testing.T) {
	dir := filepath.Join("..", "testdata", "diffusers")
	model := filepath.Join(dir, "flux2-tiny-dev")
	lp := filepath.Join(dir, "flux2-tiny-dev-lora", "lora.safetensors")
	m := flux2test.Load(t, model)
	_, format, warnings, err := Load(lp, &m.Config)
	if err != nil {
		t.Fatal(err)
	}
	if format != FormatDiffusers || len(warnings) == 0 {
		t.Errorf("format %s warnings %v (independent q/k/v A must be reported)", format, warnings)
	}
	got := forwardWith(t, model, lp, filepath.Join(model, "io.safetensors"))
	want := tensors.MustCopyFlatData[float32](weightstest.ReadAllF32(t, filepath.Join(dir, "flux2-tiny-dev-lora", "io.safetensors"))["out_lora"])
	testutil.CheckRelL2(t, "PEFT LoRA vs diffusers", got, want, 1e-4)
}

// TestFormatRoundTrips: comfy → diffusers → comfy and comfy → kohya → comfy
// give identical tensors; the output of a re-read file is unchanged.
func TestFormatRoundTrips(t *testing.T) {
	src := filepath.Join(testutil.ReferenceDir(t), "lora.safetensors")
	cfg := flux2.TinyConfig()
	meta := Meta{Variant: flux2.Variant{Name: "tiny", Config: cfg, ArchTag: "flux2_tiny"}}
	a, _, _, err := Load(src, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Include the final layer, whose diffusers rows are half-swapped.
	extra := randomAdapter(t, Spec{Preset: PresetAll, Rank: 2, Include: []string{"final_layer.*"}}, cfg, 3, 8)
	for m, p := range extra.Layers {
		a.Layers[m] = p
	}
	dir := t.TempDir()
	comfy := filepath.Join(dir, "a.safetensors")
	if err := Save(comfy, a, FormatComfy, meta); err != nil {
		t.Fatal(err)
	}
	for _, via := range []Format{FormatDiffusers, FormatKohya} {
		mid := filepath.Join(dir, string(via)+".safetensors")
		if err := Save(mid, a, via, meta); err != nil {
			t.Fatal(err)
		}
		b, format, warnings, err := Load(mid, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		if format != via || len(warnings) != 0 {
			t.Errorf("%s: read as %s with warnings %v", via, format, warnings)
		}
		back := filepath.Join(dir, "back-"+string(via)+".safetensors")
		if err := Save(back, b, FormatComfy, meta); err != nil {
			t.Fatal(err)
		}
		if via == FormatKohya {
			checkSameTensors(t, string(via)+" round trip", comfy, back)
			continue
		}
		// The diffusers file folds alpha/rank into B: the same updates
		// ΔW = (alpha/rank)·B·A, up to float32 rounding of the product.
		x, _, _, err := Load(comfy, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		y, _, _, err := Load(back, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Layers) != len(y.Layers) {
			t.Fatalf("diffusers round trip: %d layers, want %d", len(y.Layers), len(x.Layers))
		}
		for _, m := range x.Modules() {
			if len(y.Layers[m]) != 1 {
				t.Fatalf("diffusers round trip: %s has %d parts", m, len(y.Layers[m]))
			}
			px, py := x.Layers[m][0], y.Layers[m][0]
			if e := testutil.RelL2(py.DeltaRows(1), px.DeltaRows(1)); e > 1e-6 || py.Alpha != float64(py.Rank) {
				t.Errorf("diffusers round trip %s: ΔW relative L2 %.3g, alpha %g (rank %d)", m, e, py.Alpha, py.Rank)
			}
		}
	}
	// The diffusers file carries the PEFT config diffusers reads.
	f := weightstest.Open(t, filepath.Join(dir, "diffusers.safetensors"))
	md := f.Metadata()
	// Scales are folded into B: alpha = rank, for PEFT and for loaders
	// that read no config alike.
	if !strings.Contains(md["lora_adapter_metadata"], `"transformer.lora_alpha": 4`) || md["ss_network_dim"] != "4" || md["ss_base_model_version"] != "flux2_tiny" {
		t.Errorf("metadata %v", md)
	}
	if _, ok := f.Info("transformer.transformer_blocks.0.attn.to_q.lora_A.weight"); !ok {
		t.Error("fused qkv not split into to_q/to_k/to_v")
	}
}

// TestMusubiBrokenNames: files with musubi's img_attn_proj spelling are
// read (with a warning) as img_attn.proj.
func TestMusubiBrokenNames(t *testing.T) {
	cfg := flux2.TinyConfig()
	down := weights.Float32Data("diffusion_model.double_blocks.0.img_attn_proj.lora_A.weight", []int{2, 96}, make([]float32, 192))
	up := weights.Float32Data("diffusion_model.double_blocks.0.img_attn_proj.lora_B.weight", []int{96, 2}, make([]float32, 192))
	path := filepath.Join(t.TempDir(), "musubi.safetensors")
	if err := weights.WriteFile(path, []weights.TensorData{down, up}, nil); err != nil {
		t.Fatal(err)
	}
	a, _, warnings, err := Load(path, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Layers["double_blocks.0.img_attn.proj"]; !ok || len(warnings) != 1 || !strings.Contains(warnings[0], "musubi") {
		t.Errorf("layers %v warnings %v", a.Modules(), warnings)
	}
	// ai-toolkit files have no alpha: alpha = rank.
	if a.Layers["double_blocks.0.img_attn.proj"][0].Alpha != 2 {
		t.Errorf("alpha without an alpha key = %g, want the rank", a.Layers["double_blocks.0.img_attn.proj"][0].Alpha)
	}
}

// checkSameTensors fails unless two safetensors files hold the same tensors
// with the same float32 values.
func checkSameTensors(t *testing.T, what, a, b string) {
	t.Helper()
	x, y := weightstest.ReadAllF32(t, a), weightstest.ReadAllF32(t, b)
	if len(x) != len(y) {
		t.Fatalf("%s: %d tensors, want %d", what, len(y), len(x))
	}
	for n, tx := range x {
		ty, ok := y[n]
		if !ok {
			t.Fatalf("%s lost %s", what, n)
		}
		vx, vy := tensors.MustCopyFlatData[float32](tx), tensors.MustCopyFlatData[float32](ty)
		for i := range vx {
			if vx[i] != vy[i] {
				t.Fatalf("%s changed %s[%d]: %g → %g", what, n, i, vx[i], vy[i])
			}
		}
	}
}
