package lora

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// writeLoRAFile writes a LoRA file of the given tensors (values 0.01·i) and
// metadata; a name ending in .alpha gets the scalar alpha.
func writeLoRAFile(t *testing.T, shapes map[string][]int, alpha float32, md map[string]string) string {
	t.Helper()
	var ts []weights.TensorData
	for name, shape := range shapes {
		if strings.HasSuffix(name, ".alpha") {
			ts = append(ts, weights.Float32Data(name, shape, []float32{alpha}))
			continue
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = 0.01 * float32(i%97+1)
		}
		ts = append(ts, weights.Float32Data(name, shape, v))
	}
	path := filepath.Join(t.TempDir(), "lora.safetensors")
	if err := weights.WriteFile(path, ts, md); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadNamings: the spellings found in the wild map to the same official
// module, with the documented alpha and warnings.
func TestLoadNamings(t *testing.T) {
	cfg := flux2.TinyConfig() // hidden 96
	qkvA, qkvB := []int{2, 96}, []int{288, 2}
	tests := []struct {
		name      string
		shapes    map[string][]int
		md        map[string]string
		format    Format
		module    string
		alpha     float64
		wantWarn  string // substring of a warning, "" for none
		wantError string // substring of the error
	}{
		{name: "comfy with alpha", format: FormatComfy, module: "double_blocks.0.img_attn.qkv", alpha: 5,
			shapes: map[string][]int{"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": qkvA,
				"diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight": qkvB, "diffusion_model.double_blocks.0.img_attn.qkv.alpha": {}}},
		{name: "repackaged prefix, down/up, no alpha", format: FormatComfy, module: "double_blocks.0.img_attn.qkv", alpha: 2,
			shapes: map[string][]int{"model.diffusion_model.double_blocks.0.img_attn.qkv.lora_down.weight": qkvA,
				"model.diffusion_model.double_blocks.0.img_attn.qkv.lora_up.weight": qkvB}},
		{name: "no prefix", format: FormatComfy, module: "single_blocks.1.linear2", alpha: 2,
			shapes: map[string][]int{"single_blocks.1.linear2.lora_A.weight": {2, 384}, "single_blocks.1.linear2.lora_B.weight": {96, 2}}},
		{name: "dots and underscores mixed up", format: FormatComfy, module: "final_layer.adaLN_modulation.1", alpha: 2,
			wantWarn: "mixed up",
			shapes: map[string][]int{"diffusion_model.final_layer_adaLN_modulation_1.lora_A.weight": qkvA,
				"diffusion_model.final_layer_adaLN_modulation_1.lora_B.weight": {192, 2}}},
		{name: "kohya", format: FormatKohya, module: "double_blocks.1.txt_mlp.2", alpha: 5,
			shapes: map[string][]int{"lora_unet_double_blocks_1_txt_mlp_2.lora_down.weight": {2, 288},
				"lora_unet_double_blocks_1_txt_mlp_2.lora_up.weight": {96, 2}, "lora_unet_double_blocks_1_txt_mlp_2.alpha": {}}},
		{name: "kohya text encoder skipped", format: FormatKohya, module: "double_blocks.1.txt_mlp.2", alpha: 5, wantWarn: "text-encoder",
			shapes: map[string][]int{"lora_unet_double_blocks_1_txt_mlp_2.lora_down.weight": {2, 288},
				"lora_unet_double_blocks_1_txt_mlp_2.lora_up.weight": {96, 2}, "lora_unet_double_blocks_1_txt_mlp_2.alpha": {},
				"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": {2, 8}}},
		{name: "PEFT base_model prefix with adapter name", format: FormatDiffusers, module: "double_blocks.0.txt_attn.proj", alpha: 2,
			shapes: map[string][]int{"base_model.model.transformer_blocks.0.attn.to_add_out.lora_A.default.weight": {2, 96},
				"base_model.model.transformer_blocks.0.attn.to_add_out.lora_B.default.weight": {96, 2}}},
		{name: "diffusers bare names, unprefixed PEFT config, patterns in sorted order", format: FormatDiffusers,
			module: "double_blocks.0.img_attn.qkv", alpha: 3,
			md:     map[string]string{"lora_adapter_metadata": `{"r": 2, "lora_alpha": 8, "alpha_pattern": {"transformer_blocks.0.attn.to_q": 7, "attn.to_q": 3}}`},
			shapes: map[string][]int{"transformer_blocks.0.attn.to_q.lora_A.weight": {2, 96}, "transformer_blocks.0.attn.to_q.lora_B.weight": {96, 2}}},
		{name: "diffusers prefixed config, rsLoRA", format: FormatDiffusers, module: "single_blocks.0.linear1", alpha: 4 * math.Sqrt(2),
			wantWarn: "rsLoRA",
			md:       map[string]string{"lora_adapter_metadata": `{"transformer.r": 2, "transformer.lora_alpha": 4, "transformer.use_rslora": true}`},
			shapes: map[string][]int{"transformer.single_transformer_blocks.0.attn.to_qkv_mlp_proj.lora_A.weight": {2, 96},
				"transformer.single_transformer_blocks.0.attn.to_qkv_mlp_proj.lora_B.weight": {864, 2}}},
		{name: "DoRA refused", wantError: "DoRA",
			shapes: map[string][]int{"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": qkvA,
				"diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight": qkvB, "diffusion_model.double_blocks.0.img_attn.qkv.dora_scale": {1, 288}}},
		{name: "LoKr refused", wantError: "LoKr",
			shapes: map[string][]int{"lycoris_transformer_blocks_0_attn_to_q.lokr_w1": {4, 4}}},
		{name: "two PEFT adapters refused", wantError: "several PEFT adapters",
			shapes: map[string][]int{"transformer.transformer_blocks.0.attn.to_q.lora_A.a.weight": {2, 96}, "transformer.transformer_blocks.0.attn.to_q.lora_B.a.weight": {96, 2},
				"transformer.transformer_blocks.0.attn.to_k.lora_A.b.weight": {2, 96}, "transformer.transformer_blocks.0.attn.to_k.lora_B.b.weight": {96, 2}}},
		{name: "stray tensor refused", wantError: "not LoRA factors",
			shapes: map[string][]int{"double_blocks.0.img_attn.qkv.weight": {288, 96}}},
		{name: "FLUX.1 module refused", wantError: "not a linear layer",
			shapes: map[string][]int{"diffusion_model.double_blocks.0.img_mod.lin.lora_A.weight": {2, 96}, "diffusion_model.double_blocks.0.img_mod.lin.lora_B.weight": {576, 2}}},
		{name: "mismatched factors refused", wantError: "do not form a LoRA",
			shapes: map[string][]int{"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": {3, 96}, "diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight": qkvB}},
		{name: "mixed namings refused", wantError: "mixed LoRA naming",
			shapes: map[string][]int{"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": qkvA, "diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight": qkvB,
				"lora_unet_double_blocks_1_txt_mlp_2.lora_down.weight": {2, 288}, "lora_unet_double_blocks_1_txt_mlp_2.lora_up.weight": {96, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLoRAFile(t, tc.shapes, 5, tc.md)
			a, format, warnings, err := Load(path, &cfg)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming the file and containing %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Errorf("format %s, want %s", format, tc.format)
			}
			parts := a.Layers[tc.module]
			if len(parts) != 1 {
				t.Fatalf("modules %v, want one part on %s", a.Modules(), tc.module)
			}
			if math.Abs(parts[0].Alpha-tc.alpha) > 1e-12 {
				t.Errorf("alpha %g, want %g", parts[0].Alpha, tc.alpha)
			}
			joined := strings.Join(warnings, "\n")
			if (tc.wantWarn == "") != (len(warnings) == 0) || !strings.Contains(joined, tc.wantWarn) {
				t.Errorf("warnings %q, want %q", warnings, tc.wantWarn)
			}
		})
	}
}

// TestKohyaIntegerAlpha: musubi's converter stores alpha as an int64 scalar.
func TestKohyaIntegerAlpha(t *testing.T) {
	cfg := flux2.TinyConfig()
	data := make([]byte, 8)
	binary.LittleEndian.PutUint64(data, 16)
	ts := []weights.TensorData{
		weights.Float32Data("lora_unet_single_blocks_0_linear2.lora_down.weight", []int{2, 384}, make([]float32, 768)),
		weights.Float32Data("lora_unet_single_blocks_0_linear2.lora_up.weight", []int{96, 2}, make([]float32, 192)),
		{Name: "lora_unet_single_blocks_0_linear2.alpha", DType: weights.I64, Shape: []int{}, Data: data},
	}
	path := filepath.Join(t.TempDir(), "k.safetensors")
	if err := weights.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	a, _, _, err := Load(path, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Layers["single_blocks.0.linear2"][0].Alpha; got != 16 {
		t.Errorf("alpha %g, want 16", got)
	}
}

// TestDiffusersSharedAParity: a PEFT LoRA whose to_q/to_k/to_v share one A,
// with rsLoRA scaling, saved by diffusers' save_lora_adapter (bare names,
// unprefixed config; tools/reference/flux2_lora.py) fuses losslessly into
// one part per qkv layer and reproduces diffusers' output.
func TestDiffusersSharedAParity(t *testing.T) {
	dir := filepath.Join("..", "testdata", "diffusers")
	model := filepath.Join(dir, "flux2-tiny-dev")
	lp := filepath.Join(dir, "flux2-tiny-dev-lora", "lora_shared.safetensors")
	a, format, warnings, err := Load(lp, nil) // architecture inferred from the file
	if err != nil {
		t.Fatal(err)
	}
	if format != FormatDiffusers || len(warnings) != 1 || !strings.Contains(warnings[0], "rsLoRA") {
		t.Errorf("format %s warnings %q; want diffusers and only the rsLoRA note", format, warnings)
	}
	for _, m := range []string{"double_blocks.0.img_attn.qkv", "double_blocks.1.txt_attn.qkv"} {
		if p := a.Layers[m]; len(p) != 1 || p[0].Rows != 96 || p[0].RowOffset != 0 || p[0].Alpha != 2*2 {
			t.Errorf("%s: %d parts, want one fused part of 96 rows with alpha 2·√4", m, len(p))
		}
	}
	got := forwardWith(t, model, lp, filepath.Join(model, "io.safetensors"))
	want := tensors.MustCopyFlatData[float32](weightstest.ReadAllF32(t, filepath.Join(dir, "flux2-tiny-dev-lora", "io.safetensors"))["out_lora_shared"])
	testutil.CheckRelL2(t, "shared-A rsLoRA vs diffusers", got, want, 1e-4)
}

// TestInferConfigFromDiffusersFile: without a model, the architecture of the
// independent-A fixture (hidden 32, custom size) is read off its shapes,
// including the widths of the adapted embedders.
func TestInferConfigFromDiffusersFile(t *testing.T) {
	lp := filepath.Join("..", "testdata", "diffusers", "flux2-tiny-dev-lora", "lora.safetensors")
	a, _, _, err := Load(lp, nil)
	if err != nil {
		t.Fatal(err)
	}
	for m, in := range map[string]int{"img_in": 16, "txt_in": 24, "double_blocks.0.img_mlp.2": 96, "single_blocks.0.linear2": 128} {
		if p := a.Layers[m]; len(p) == 0 || p[0].In != in {
			t.Errorf("%s: parts %v, want input width %d", m, p, in)
		}
	}
}

// TestDiffusersImportExportsExactly: the independent-A diffusers fixture
// (parallel q/k/v parts, a block with to_q alone, the final adaLN) written
// back in every format, without telling Save the architecture, still
// reproduces diffusers' output.
func TestDiffusersImportExportsExactly(t *testing.T) {
	dir := filepath.Join("..", "testdata", "diffusers")
	model := filepath.Join(dir, "flux2-tiny-dev")
	a, _, _, err := Load(filepath.Join(dir, "flux2-tiny-dev-lora", "lora.safetensors"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := tensors.MustCopyFlatData[float32](weightstest.ReadAllF32(t, filepath.Join(dir, "flux2-tiny-dev-lora", "io.safetensors"))["out_lora"])
	for _, format := range []Format{FormatComfy, FormatKohya, FormatDiffusers} {
		path := filepath.Join(t.TempDir(), string(format)+".safetensors")
		if err := Save(path, a, format, Meta{}); err != nil {
			t.Fatal(err)
		}
		got := forwardWith(t, model, path, filepath.Join(model, "io.safetensors"))
		if e := testutil.RelL2(got, want); e > 1e-4 {
			t.Errorf("%s: relative L2 error %.3g > 1e-4 vs diffusers", format, e)
		}
	}
}

// TestUpdateNorm: the norm of a layer's update with parallel, overlapping
// parts equals the Frobenius norm of the dense sum.
func TestUpdateNorm(t *testing.T) {
	targets := []Target{{Layer: Layer{Module: "x", In: 5, Out: 4}, Rank: 2, Alpha: 3}, {Layer: Layer{Module: "y", In: 5, Out: 4}, Rank: 3, Alpha: 1.5}}
	src := NewAdapter(targets, 1)
	randomizeUp(src, 2)
	p, q := src.Layers["x"][0], src.Layers["y"][0]
	q.Rows, q.RowOffset, q.Up = 2, 2, q.Up[:2*3] // rows [2, 4), overlapping p (all 4 rows)
	a := &Adapter{Layers: map[string][]*Part{"double_blocks.0.img_attn.proj": {p, q}}}
	dense := make([]float64, 4*5)
	for _, part := range []*Part{p, q} {
		d := part.DeltaRows(1)
		for r := 0; r < part.Rows; r++ {
			for c := 0; c < 5; c++ {
				dense[(part.RowOffset+r)*5+c] += float64(d[r*5+c])
			}
		}
	}
	var want float64
	for _, v := range dense {
		want += v * v
	}
	want = math.Sqrt(want)
	if got := a.UpdateNorm("double_blocks.0.img_attn.proj"); math.Abs(got-want) > 1e-6*want {
		t.Errorf("UpdateNorm %g, want %g", got, want)
	}
}

// TestDiffusersRoundTripIdentical: diffusers' own file (independent A per
// q/k/v, to_q alone in a block, norm_out.linear, alpha ≠ rank) read and
// written back in the diffusers format has the same tensor names and the
// same A, byte for byte, and the same updates ΔW: parallel parts return to
// their own modules, untouched split modules are not invented, the final
// adaLN rows are swapped back, and alpha/rank is folded into B (alpha =
// rank in the file written).
func TestDiffusersRoundTripIdentical(t *testing.T) {
	src := filepath.Join("..", "testdata", "diffusers", "flux2-tiny-dev-lora", "lora.safetensors")
	a, _, _, err := Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "back.safetensors")
	if err := Save(out, a, FormatDiffusers, Meta{}); err != nil {
		t.Fatal(err)
	}
	// Same names, dtypes, shapes; A byte for byte (B carries the folded
	// scale, compared through ΔW below).
	weightstest.CheckSameStored(t, src, out, func(n string) bool { return strings.HasSuffix(n, ".lora_B.weight") })
	b, _, _, err := Load(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range a.Modules() {
		pa, pb := a.Layers[m], b.Layers[m]
		if len(pa) != len(pb) {
			t.Errorf("%s: %d parts read back, want %d", m, len(pb), len(pa))
			continue
		}
		for i := range pa {
			if e := testutil.RelL2(pb[i].DeltaRows(1), pa[i].DeltaRows(1)); e > 1e-6 || pb[i].RowOffset != pa[i].RowOffset ||
				pb[i].Alpha != float64(pb[i].Rank) {
				t.Errorf("%s part %d: ΔW relative L2 %.3g, rows from %d (want %d), alpha %g (rank %d)",
					m, i, e, pb[i].RowOffset, pa[i].RowOffset, pb[i].Alpha, pb[i].Rank)
			}
		}
	}
}
