package weights

import (
	"fmt"
	"testing"
)

func TestDetectLayoutFixtures(t *testing.T) {
	tests := []struct {
		file string
		kind LayoutKind
		desc string
	}{
		{"transformer.safetensors", LayoutFlux2Official, "official FLUX.2 transformer"},
		{"vae.safetensors", LayoutVAEOfficial, "official FLUX.2 VAE"},
		{"lora.safetensors", LayoutLoRAComfyUI, "ComfyUI-style LoRA"},
		{"transformer_io.safetensors", LayoutUnknown, "unknown layout"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			c := mustOpen(t, OpenCheckpoint, fixture(t, tc.file))
			got := c.Layout()
			if got.Kind != tc.kind || got.Description != tc.desc || got.Prefix != "" {
				t.Errorf("layout = %+v, want %v %q", got, tc.kind, tc.desc)
			}
		})
	}
}

// blocks expands a name pattern with %d over n block indices.
func blocks(n int, patterns ...string) []string {
	var out []string
	for i := range n {
		for _, p := range patterns {
			out = append(out, fmt.Sprintf(p, i))
		}
	}
	return out
}

func TestDetectLayoutSynthetic(t *testing.T) {
	official := append(blocks(2, "double_blocks.%d.img_attn.qkv.weight", "double_blocks.%d.txt_mlp.2.weight", "single_blocks.%d.linear1.weight"),
		"img_in.weight", "double_stream_modulation_img.lin.weight", "single_stream_modulation.lin.weight")
	prefixed := make([]string, len(official))
	for i, n := range official {
		prefixed[i] = "model.diffusion_model." + n
	}
	diffusers := append(blocks(2, "transformer_blocks.%d.attn.to_q.weight", "transformer_blocks.%d.ff.linear_in.weight",
		"single_transformer_blocks.%d.attn.to_qkv_mlp_proj.weight"), "x_embedder.weight", "double_stream_modulation_img.linear.weight")
	diffusersShard := blocks(3, "transformer_blocks.%d.attn.to_q.weight", "transformer_blocks.%d.attn.to_k.weight")
	flux1 := append(blocks(2, "double_blocks.%d.img_attn.qkv.weight", "double_blocks.%d.img_mod.lin.weight", "single_blocks.%d.linear1.weight"), "img_in.weight")
	vaeOfficial := append(blocks(2, "encoder.down.%d.block.0.conv1.weight", "decoder.up.%d.block.0.conv1.weight"), "bn.running_mean", "bn.running_var")
	vaeDiffusers := append(blocks(2, "encoder.down_blocks.%d.resnets.0.conv1.weight", "decoder.up_blocks.%d.resnets.0.conv1.weight"), "bn.running_mean", "quant_conv.weight")
	vaeFlux1 := blocks(2, "encoder.down.%d.block.0.conv1.weight", "decoder.up.%d.block.0.conv1.weight")
	qwen3 := append(blocks(2, "model.layers.%d.self_attn.q_proj.weight", "model.layers.%d.self_attn.q_norm.weight", "model.layers.%d.mlp.gate_proj.weight"),
		"model.embed_tokens.weight", "model.norm.weight")
	mistral := append(blocks(2, "model.layers.%d.self_attn.q_proj.weight", "model.layers.%d.mlp.up_proj.weight"), "model.embed_tokens.weight", "lm_head.weight")
	mistral3Old := append(blocks(2, "language_model.model.layers.%d.self_attn.q_proj.weight"), "vision_tower.transformer.layers.0.attention.q_proj.weight", "multi_modal_projector.linear_1.weight")
	mistral3New := append(blocks(2, "model.language_model.layers.%d.self_attn.q_proj.weight"), "model.vision_tower.transformer.layers.0.attention.q_proj.weight")
	loraDiffusers := blocks(2, "transformer.transformer_blocks.%d.attn.to_q.lora_A.weight", "transformer.transformer_blocks.%d.attn.to_q.lora_B.weight")
	loraPEFT := blocks(2, "base_model.model.transformer_blocks.%d.attn.to_q.lora_A.weight")
	loraComfy := blocks(2, "diffusion_model.double_blocks.%d.img_attn.qkv.lora_A.weight", "diffusion_model.double_blocks.%d.img_attn.qkv.lora_B.weight",
		"diffusion_model.double_blocks.%d.img_attn.qkv.alpha")
	loraKohya := blocks(2, "lora_unet_double_blocks_%d_img_attn_qkv.lora_down.weight", "lora_unet_double_blocks_%d_img_attn_qkv.lora_up.weight", "lora_unet_double_blocks_%d_img_attn_qkv.alpha")
	loraOther := blocks(2, "foo.%d.lora_down.weight")

	tests := []struct {
		name   string
		names  []string
		kind   LayoutKind
		prefix string
		desc   string
	}{
		{"official", official, LayoutFlux2Official, "", "official FLUX.2 transformer"},
		{"official with ComfyUI prefix", prefixed, LayoutFlux2Official, "model.diffusion_model.", "official FLUX.2 transformer"},
		{"diffusers transformer", diffusers, LayoutFlux2Diffusers, "", "diffusers FLUX.2 transformer"},
		{"diffusers shard without markers", diffusersShard, LayoutUnknown, "", "diffusers-style transformer blocks without FLUX.2 markers (a shard, or another model)"},
		{"FLUX.1 official", flux1, LayoutUnknown, "", "BFL-style transformer without FLUX.2's shared modulation weights (FLUX.1, or an incomplete file)"},
		{"official VAE", vaeOfficial, LayoutVAEOfficial, "", "official FLUX.2 VAE"},
		{"diffusers VAE", vaeDiffusers, LayoutVAEDiffusers, "", "diffusers FLUX.2 VAE"},
		{"FLUX.1 VAE", vaeFlux1, LayoutUnknown, "", "BFL-style autoencoder without FLUX.2's latent BatchNorm (FLUX.1 or another model)"},
		{"Qwen3", qwen3, LayoutTextEncoderQwen3, "model.", "Qwen3 text encoder (Hugging Face)"},
		{"Mistral", mistral, LayoutTextEncoderMistral, "model.", "Mistral text encoder (Hugging Face)"},
		{"Mistral3 (older transformers)", mistral3Old, LayoutTextEncoderMistral, "language_model.model.", "Mistral text encoder (Hugging Face)"},
		{"Mistral3 (newer transformers)", mistral3New, LayoutTextEncoderMistral, "model.language_model.", "Mistral text encoder (Hugging Face)"},
		{"diffusers LoRA", loraDiffusers, LayoutLoRADiffusers, "", "diffusers/PEFT LoRA"},
		{"PEFT LoRA", loraPEFT, LayoutLoRADiffusers, "", "diffusers/PEFT LoRA"},
		{"ComfyUI LoRA", loraComfy, LayoutLoRAComfyUI, "", "ComfyUI-style LoRA"},
		{"kohya LoRA", loraKohya, LayoutLoRAKohya, "", "kohya LoRA"},
		{"other LoRA", loraOther, LayoutLoRAOther, "", "LoRA adapter (unrecognised naming)"},
		{"empty", nil, LayoutUnknown, "", "unknown layout"},
		{"unrelated", []string{"conv.weight", "fc.bias", "xdouble_blocks.0.img_attn.qkv.weight"}, LayoutUnknown, "", "unknown layout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectLayout(tc.names)
			if got.Kind != tc.kind || got.Prefix != tc.prefix || got.Description != tc.desc {
				t.Errorf("DetectLayout = %+v, want {%v %q %q}", got, tc.kind, tc.prefix, tc.desc)
			}
			if got.Kind.IsLoRA() != (tc.kind >= LayoutLoRADiffusers) {
				t.Errorf("IsLoRA = %v", got.Kind.IsLoRA())
			}
		})
	}
}
