package lora

import (
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/model/flux2"
)

// TestCompatibility: with every layer adapted, diffusers' kohya converter
// drops exactly the six modules it has no mapping for (guidance_in ×2, the
// three modulations, the final adaLN: what diffusers 0.42.1 reported as
// "Unsupported keys" for such a file); a run exporting the kohya file alone
// is warned about it, one that also exports the diffusers file is not; a
// ComfyUI file is refused by diffusers; ComfyUI drops the FLUX.2-only
// layers (feed-forward, single blocks, time/guidance embedders,
// modulations) of a diffusers file; unchecked pairs claim nothing.
func TestCompatibility(t *testing.T) {
	cfg := flux2.TinyConfig()
	targets, err := Spec{Preset: PresetAll, Rank: 2}.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := NewAdapter(targets, 1)
	blocks, err := Spec{Preset: PresetBlocks, Rank: 2}.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	blocksOnly := NewAdapter(blocks, 1)

	kohya := Compatibility(all, FormatKohya)
	want := []string{"double_stream_modulation_img.lin", "double_stream_modulation_txt.lin", "final_layer.adaLN_modulation.1",
		"guidance_in.in_layer", "guidance_in.out_layer", "single_stream_modulation.lin"}
	got := slices.Clone(kohya[1].Dropped)
	slices.Sort(got)
	if kohya[1].Client != ClientDiffusers || !kohya[1].Loads || !slices.Equal(got, want) {
		t.Errorf("diffusers on a kohya file of every layer: %+v, want dropped %v", kohya[1], want)
	}
	if !kohya[0].Loads || len(kohya[0].Dropped) != 0 || kohya[2].Checked {
		t.Errorf("ComfyUI and kohya tools on a kohya file: %+v", kohya)
	}
	if d := Compatibility(blocksOnly, FormatKohya)[1].Dropped; len(d) != 0 {
		t.Errorf("block layers only: dropped %v", d)
	}
	if c := Compatibility(all, FormatComfy)[1]; !c.Checked || c.Loads {
		t.Errorf("diffusers on a ComfyUI file: %+v", c)
	}
	// ComfyUI on a diffusers file: the layers its FLUX.1 diffusers key map
	// does not name (comfyui_check.json, TestComfyUILoadsFloraExports).
	comfy := Compatibility(all, FormatDiffusers)[0]
	wantComfy := []string{"double_blocks.0.img_mlp.0", "double_blocks.0.img_mlp.2", "double_blocks.0.txt_mlp.0", "double_blocks.0.txt_mlp.2",
		"double_blocks.1.img_mlp.0", "double_blocks.1.img_mlp.2", "double_blocks.1.txt_mlp.0", "double_blocks.1.txt_mlp.2",
		"double_stream_modulation_img.lin", "double_stream_modulation_txt.lin", "guidance_in.in_layer", "guidance_in.out_layer",
		"single_blocks.0.linear1", "single_blocks.0.linear2", "single_blocks.1.linear1", "single_blocks.1.linear2",
		"single_stream_modulation.lin", "time_in.in_layer", "time_in.out_layer"}
	got = slices.Clone(comfy.Dropped)
	slices.Sort(got)
	if comfy.Client != ClientComfyUI || !comfy.Checked || !comfy.Loads || !slices.Equal(got, wantComfy) {
		t.Errorf("ComfyUI on a diffusers file of every layer: %+v, want dropped %v", comfy, wantComfy)
	}

	tests := []struct {
		name    string
		a       *Adapter
		formats []Format
		want    []string // substrings, one per warning
	}{
		{"default exports", all, []Format{FormatComfy, FormatDiffusers}, nil},
		{"kohya alone", all, []Format{FormatKohya}, []string{"diffusers drops 6 of the"}},
		{"kohya and diffusers", all, []Format{FormatKohya, FormatDiffusers}, nil},
		{"comfy alone", all, []Format{FormatComfy}, []string{"diffusers does not load comfy files"}},
		{"kohya alone, blocks", blocksOnly, []Format{FormatKohya}, nil},
		{"diffusers alone", all, []Format{FormatDiffusers}, []string{"ComfyUI drops 19 of the 31 layers of a diffusers file"}},
		{"kohya and diffusers, blocks", blocksOnly, []Format{FormatKohya, FormatDiffusers}, nil},
	}
	for _, tc := range tests {
		w := CompatibilityWarnings(tc.a, tc.formats...)
		if len(w) != len(tc.want) {
			t.Errorf("%s: warnings %q, want %d", tc.name, w, len(tc.want))
			continue
		}
		for i := range w {
			if !strings.Contains(w[i], tc.want[i]) {
				t.Errorf("%s: warning %q lacks %q", tc.name, w[i], tc.want[i])
			}
		}
	}
}
