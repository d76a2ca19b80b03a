package flux2

import (
	"fmt"
	"regexp"

	"github.com/flora-ml/flora/internal/tensorload"
)

// Diffusers stores the FLUX.2 transformer under other names, splits the fused
// q/k/v of double blocks into three tensors, and stores the final adaLN rows
// as (scale, shift) instead of (shift, scale). A diffusersSource says how to
// build one official weight from diffusers tensors.
type diffusersSource struct {
	// Parts are the diffusers names whose rows are concatenated in order
	// (one name for a plain rename).
	Parts []string
	// SwapHalves exchanges the two row halves (final-layer adaLN).
	SwapHalves bool
}

var (
	reDoubleDiff = regexp.MustCompile(`^double_blocks\.(\d+)\.(.+)$`)
	reSingleDiff = regexp.MustCompile(`^single_blocks\.(\d+)\.(.+)$`)
)

// diffusersGlobal maps official global names to diffusers names.
var diffusersGlobal = map[string]string{
	"img_in.weight":                           "x_embedder.weight",
	"txt_in.weight":                           "context_embedder.weight",
	"time_in.in_layer.weight":                 "time_guidance_embed.timestep_embedder.linear_1.weight",
	"time_in.out_layer.weight":                "time_guidance_embed.timestep_embedder.linear_2.weight",
	"guidance_in.in_layer.weight":             "time_guidance_embed.guidance_embedder.linear_1.weight",
	"guidance_in.out_layer.weight":            "time_guidance_embed.guidance_embedder.linear_2.weight",
	"double_stream_modulation_img.lin.weight": "double_stream_modulation_img.linear.weight",
	"double_stream_modulation_txt.lin.weight": "double_stream_modulation_txt.linear.weight",
	"single_stream_modulation.lin.weight":     "single_stream_modulation.linear.weight",
	"final_layer.linear.weight":               "proj_out.weight",
}

// diffusersDouble maps the per-double-block suffixes (other than the fused
// qkv) to their diffusers suffixes.
var diffusersDouble = map[string]string{
	"img_attn.norm.query_norm.scale": "attn.norm_q.weight",
	"img_attn.norm.key_norm.scale":   "attn.norm_k.weight",
	"img_attn.proj.weight":           "attn.to_out.0.weight",
	"img_mlp.0.weight":               "ff.linear_in.weight",
	"img_mlp.2.weight":               "ff.linear_out.weight",
	"txt_attn.norm.query_norm.scale": "attn.norm_added_q.weight",
	"txt_attn.norm.key_norm.scale":   "attn.norm_added_k.weight",
	"txt_attn.proj.weight":           "attn.to_add_out.weight",
	"txt_mlp.0.weight":               "ff_context.linear_in.weight",
	"txt_mlp.2.weight":               "ff_context.linear_out.weight",
}

// diffusersSingle maps the per-single-block suffixes.
var diffusersSingle = map[string]string{
	"linear1.weight":        "attn.to_qkv_mlp_proj.weight",
	"linear2.weight":        "attn.to_out.weight",
	"norm.query_norm.scale": "attn.norm_q.weight",
	"norm.key_norm.scale":   "attn.norm_k.weight",
}

// DiffusersSource returns how the official weight name is stored in the
// diffusers layout.
func DiffusersSource(official string) (diffusersSource, error) {
	if official == "final_layer.adaLN_modulation.1.weight" {
		return diffusersSource{Parts: []string{"norm_out.linear.weight"}, SwapHalves: true}, nil
	}
	if d, ok := diffusersGlobal[official]; ok {
		return diffusersSource{Parts: []string{d}}, nil
	}
	if m := reDoubleDiff.FindStringSubmatch(official); m != nil {
		pre := "transformer_blocks." + m[1] + "."
		switch m[2] {
		case "img_attn.qkv.weight":
			return diffusersSource{Parts: []string{pre + "attn.to_q.weight", pre + "attn.to_k.weight", pre + "attn.to_v.weight"}}, nil
		case "txt_attn.qkv.weight":
			return diffusersSource{Parts: []string{pre + "attn.add_q_proj.weight", pre + "attn.add_k_proj.weight", pre + "attn.add_v_proj.weight"}}, nil
		}
		if d, ok := diffusersDouble[m[2]]; ok {
			return diffusersSource{Parts: []string{pre + d}}, nil
		}
	}
	if m := reSingleDiff.FindStringSubmatch(official); m != nil {
		if d, ok := diffusersSingle[m[2]]; ok {
			return diffusersSource{Parts: []string{"single_transformer_blocks." + m[1] + "." + d}}, nil
		}
	}
	return diffusersSource{}, fmt.Errorf("no diffusers name for %q", official)
}

// OfficialPrefixes are prefixes some repackagings (ComfyUI) put in front of
// official names; the loader strips them.
var OfficialPrefixes = []string{"model.diffusion_model.", "diffusion_model."}

// stripOfficialPrefix removes a known repackaging prefix.
func stripOfficialPrefix(name string) string {
	return tensorload.TrimFirstPrefix(name, OfficialPrefixes)
}
