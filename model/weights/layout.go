package weights

import (
	"strings"
)

// LayoutKind is a checkpoint naming scheme recognised by DetectLayout.
type LayoutKind int

// The naming schemes DetectLayout recognises.
const (
	// LayoutUnknown: no recognised scheme.
	LayoutUnknown LayoutKind = iota
	// LayoutFlux2Official: Black Forest Labs' single-file FLUX.2 transformer
	// (double_blocks.*.img_attn.qkv.weight, single_blocks.*.linear1.weight,
	// img_in.weight, ...), optionally under a prefix such as
	// "model.diffusion_model.".
	LayoutFlux2Official
	// LayoutFlux2Diffusers: the diffusers FLUX.2 transformer
	// (transformer_blocks.*.attn.to_q.weight,
	// single_transformer_blocks.*.attn.to_qkv_mlp_proj.weight, x_embedder.weight, ...).
	LayoutFlux2Diffusers
	// LayoutVAEOfficial: the BFL FLUX.2 autoencoder (encoder.down.*,
	// decoder.up.*, bn.running_mean).
	LayoutVAEOfficial
	// LayoutVAEDiffusers: the diffusers FLUX.2 autoencoder
	// (encoder.down_blocks.*, decoder.up_blocks.*, bn.running_mean).
	LayoutVAEDiffusers
	// LayoutTextEncoderQwen3: a Hugging Face Qwen3 causal LM
	// (model.layers.*.self_attn.q_norm.weight), the FLUX.2 [klein] text encoder.
	LayoutTextEncoderQwen3
	// LayoutTextEncoderMistral: a Hugging Face Mistral LM without QK-norm
	// (model.layers.*, or language_model.model.layers.* /
	// model.language_model.layers.* in Mistral3ForConditionalGeneration),
	// the FLUX.2 [dev] text encoder.
	LayoutTextEncoderMistral
	// LayoutLoRADiffusers: a diffusers/PEFT LoRA (transformer.*.lora_A.weight,
	// or base_model.model.*.lora_A.weight).
	LayoutLoRADiffusers
	// LayoutLoRAComfyUI: a LoRA with BFL module names under
	// diffusion_model. (diffusion_model.*.lora_A.weight), as ComfyUI loads.
	LayoutLoRAComfyUI
	// LayoutLoRAKohya: a kohya-ss LoRA (lora_unet_*.lora_down.weight).
	LayoutLoRAKohya
	// LayoutLoRAOther: LoRA tensors (lora_A/lora_B/lora_down/lora_up) under
	// an unrecognised naming.
	LayoutLoRAOther
)

// String returns the human description of the kind, e.g.
// "official FLUX.2 transformer".
func (k LayoutKind) String() string {
	switch k {
	case LayoutFlux2Official:
		return "official FLUX.2 transformer"
	case LayoutFlux2Diffusers:
		return "diffusers FLUX.2 transformer"
	case LayoutVAEOfficial:
		return "official FLUX.2 VAE"
	case LayoutVAEDiffusers:
		return "diffusers FLUX.2 VAE"
	case LayoutTextEncoderQwen3:
		return "Qwen3 text encoder (Hugging Face)"
	case LayoutTextEncoderMistral:
		return "Mistral text encoder (Hugging Face)"
	case LayoutLoRADiffusers:
		return "diffusers/PEFT LoRA"
	case LayoutLoRAComfyUI:
		return "ComfyUI-style LoRA"
	case LayoutLoRAKohya:
		return "kohya LoRA"
	case LayoutLoRAOther:
		return "LoRA adapter (unrecognised naming)"
	}
	return "unknown layout"
}

// ID returns a stable machine-readable name of the kind, e.g.
// "flux2-transformer-official" (for JSON output and configs).
func (k LayoutKind) ID() string {
	switch k {
	case LayoutFlux2Official:
		return "flux2-transformer-official"
	case LayoutFlux2Diffusers:
		return "flux2-transformer-diffusers"
	case LayoutVAEOfficial:
		return "flux2-vae-official"
	case LayoutVAEDiffusers:
		return "flux2-vae-diffusers"
	case LayoutTextEncoderQwen3:
		return "text-encoder-qwen3"
	case LayoutTextEncoderMistral:
		return "text-encoder-mistral"
	case LayoutLoRADiffusers:
		return "lora-diffusers"
	case LayoutLoRAComfyUI:
		return "lora-comfyui"
	case LayoutLoRAKohya:
		return "lora-kohya"
	case LayoutLoRAOther:
		return "lora-other"
	}
	return "unknown"
}

// IsLoRA reports whether the kind is a LoRA adapter.
func (k LayoutKind) IsLoRA() bool { return k >= LayoutLoRADiffusers && k <= LayoutLoRAOther }

// Layout is the result of DetectLayout.
type Layout struct {
	Kind LayoutKind
	// Prefix is the key prefix in front of the scheme's own names, e.g.
	// "model.diffusion_model." for a repackaged official transformer,
	// "model." for a Qwen3 LM, "language_model.model." for Mistral3; empty
	// when there is none. Not set for LoRA kinds (their prefix is part of
	// the scheme).
	Prefix string
	// Description is a human description: Kind.String(), or for an unknown
	// layout a hint at what was recognised.
	Description string
}

// DetectLayout recognises the naming scheme of a checkpoint from its tensor
// names (nothing else is read: shapes and dtypes are the model packages'
// business).
func DetectLayout(names []string) Layout {
	if l, ok := detectLoRA(names); ok {
		return l
	}
	has := func(head, tail string) (string, bool) {
		for _, n := range names {
			if p, ok := matchIndexed(n, head, tail); ok {
				return p, true
			}
		}
		return "", false
	}
	hasExact := func(prefix, name string) bool {
		for _, n := range names {
			if n == prefix+name {
				return true
			}
		}
		return false
	}
	unknown := func(desc string) Layout { return Layout{Kind: LayoutUnknown, Description: desc} }
	known := func(k LayoutKind, prefix string) Layout {
		return Layout{Kind: k, Prefix: prefix, Description: k.String()}
	}

	// Transformers.
	pd, double := has("double_blocks.", ".img_attn.qkv.weight")
	ps, single := has("single_blocks.", ".linear1.weight")
	if double || single {
		p := pd
		if !double {
			p = ps
		}
		if hasExact(p, "double_stream_modulation_img.lin.weight") || hasExact(p, "single_stream_modulation.lin.weight") {
			return known(LayoutFlux2Official, p)
		}
		return unknown("BFL-style transformer without FLUX.2's shared modulation weights (FLUX.1, or an incomplete file)")
	}
	if p, ok := has("single_transformer_blocks.", ".attn.to_qkv_mlp_proj.weight"); ok {
		return known(LayoutFlux2Diffusers, p)
	}
	if p, ok := has("transformer_blocks.", ".attn.to_q.weight"); ok {
		if hasExact(p, "double_stream_modulation_img.linear.weight") || hasExact(p, "x_embedder.weight") && hasExact(p, "single_stream_modulation.linear.weight") {
			return known(LayoutFlux2Diffusers, p)
		}
		return unknown("diffusers-style transformer blocks without FLUX.2 markers (a shard, or another model)")
	}

	// Autoencoders.
	if p, ok := has("encoder.down.", ".block.0.conv1.weight"); ok {
		if hasExact(p, "bn.running_mean") {
			return known(LayoutVAEOfficial, p)
		}
		return unknown("BFL-style autoencoder without FLUX.2's latent BatchNorm (FLUX.1 or another model)")
	}
	if p, ok := has("encoder.down_blocks.", ".resnets.0.conv1.weight"); ok {
		if hasExact(p, "bn.running_mean") {
			return known(LayoutVAEDiffusers, p)
		}
		return unknown("diffusers autoencoder without FLUX.2's latent BatchNorm (not a FLUX.2 VAE)")
	}

	// Text encoders: decoder-only LMs in Hugging Face naming.
	for _, lm := range []string{"model.", "language_model.model.", "model.language_model."} {
		if p, ok := has(lm+"layers.", ".self_attn.q_proj.weight"); !ok || p != "" {
			continue
		}
		if p, qk := has(lm+"layers.", ".self_attn.q_norm.weight"); qk && p == "" {
			return known(LayoutTextEncoderQwen3, lm)
		}
		return known(LayoutTextEncoderMistral, lm)
	}
	return unknown("unknown layout")
}

// detectLoRA classifies LoRA adapters by the naming most of their LoRA
// tensors use.
func detectLoRA(names []string) (Layout, bool) {
	counts := map[LayoutKind]int{}
	for _, n := range names {
		if !isLoRAName(n) {
			continue
		}
		switch {
		case strings.HasPrefix(n, "lora_unet_") || strings.HasPrefix(n, "lora_te"):
			counts[LayoutLoRAKohya]++
		case strings.HasPrefix(n, "diffusion_model."):
			counts[LayoutLoRAComfyUI]++
		case strings.HasPrefix(n, "transformer.") || strings.HasPrefix(n, "base_model.model."):
			counts[LayoutLoRADiffusers]++
		default:
			counts[LayoutLoRAOther]++
		}
	}
	best, bestN := LayoutUnknown, 0
	for _, k := range []LayoutKind{LayoutLoRADiffusers, LayoutLoRAComfyUI, LayoutLoRAKohya, LayoutLoRAOther} {
		if counts[k] > bestN {
			best, bestN = k, counts[k]
		}
	}
	if bestN == 0 {
		return Layout{}, false
	}
	return Layout{Kind: best, Description: best.String()}, true
}

// isLoRAName reports whether n names a LoRA factor matrix.
func isLoRAName(n string) bool {
	for _, s := range []string{".lora_A.", ".lora_B.", ".lora_down.", ".lora_up."} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return strings.HasSuffix(n, ".lora_A") || strings.HasSuffix(n, ".lora_B")
}

// matchIndexed reports whether name is prefix+head+<decimal index>+tail, with
// prefix empty or ending in ".", and returns prefix.
func matchIndexed(name, head, tail string) (string, bool) {
	i := strings.Index(name, head)
	if i < 0 {
		return "", false
	}
	prefix := name[:i]
	if prefix != "" && !strings.HasSuffix(prefix, ".") {
		return "", false
	}
	rest := name[i+len(head):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == 0 || rest[j:] != tail {
		return "", false
	}
	return prefix, true
}
