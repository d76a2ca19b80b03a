#!/usr/bin/env python3
"""Parity fixtures for Flora's FLUX.2 text encoders (model/textenc).

Builds tiny random Qwen3ForCausalLM (klein's encoder family) and
Mistral3ForConditionalGeneration (dev's) models with transformers, saves them
with save_pretrained (the Mistral one sharded, with a vision tower Flora must
skip), and records the stacked hidden states exactly as diffusers'
Flux2KleinPipeline._get_qwen3_prompt_embeds / Flux2Pipeline.
_get_mistral_3_small_prompt_embeds compute them: hidden_states[k] for the
selected layers, stacked, permuted to [B, L, len(layers) * hidden]. Qwen3
inputs are right-padded, Mistral ones left-padded (as the FLUX.2 tokenizers
pad), with attention masks, default position ids and the default (sdpa)
attention implementation.

Usage: python3 tools/reference/textenc.py [OUT_DIR]   (default testdata/textenc)
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import Mistral3Config, Mistral3ForConditionalGeneration, Qwen3Config, Qwen3ForCausalLM


def randomize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * 0.5 / (p.shape[-1] ** 0.5))
    return model.eval()


def embeds(model, ids, mask, layers):
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False)
    stacked = torch.stack([out.hidden_states[k] for k in layers], dim=1)
    b, c, l, d = stacked.shape
    return stacked.permute(0, 2, 1, 3).reshape(b, l, c * d).contiguous()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("testdata", "textenc")
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)

    # Qwen3, right padding (klein).
    qcfg = Qwen3Config(vocab_size=512, hidden_size=32, intermediate_size=48, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=64,
                       rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=True)
    qwen = randomize(Qwen3ForCausalLM(qcfg))
    qwen.save_pretrained(os.path.join(out_dir, "qwen3-tiny"), safe_serialization=True)
    ids = torch.randint(1, 512, (2, 10), generator=g)
    mask = torch.ones_like(ids)
    ids[0, 6:], mask[0, 6:] = 0, 0  # right padding with pad id 0
    ids[1, 9:], mask[1, 9:] = 0, 0
    io = {"ids": ids.int(), "mask": mask.int()}
    for layers in [(1, 2, 3), (0, 2, 4)]:
        io["embeds_" + "_".join(map(str, layers))] = embeds(qwen, ids, mask, layers)
    save_file(io, os.path.join(out_dir, "qwen3-tiny", "io.safetensors"))

    # Qwen3 deep enough for klein's real layer set (9, 18, 27).
    dcfg = Qwen3Config(vocab_size=64, hidden_size=16, intermediate_size=16, num_hidden_layers=28,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=64)
    deep = randomize(Qwen3ForCausalLM(dcfg))
    deep.save_pretrained(os.path.join(out_dir, "qwen3-deep"), safe_serialization=True)
    ids2 = torch.randint(1, 64, (1, 7), generator=g)
    mask2 = torch.ones_like(ids2)
    ids2[0, 5:], mask2[0, 5:] = 0, 0
    save_file({"ids": ids2.int(), "mask": mask2.int(), "embeds_9_18_27": embeds(deep, ids2, mask2, (9, 18, 27))},
              os.path.join(out_dir, "qwen3-deep", "io.safetensors"))

    # Mistral3 (text model inside a multimodal wrapper), left padding (dev).
    mcfg = Mistral3Config(
        text_config=dict(model_type="mistral", vocab_size=512, hidden_size=32, intermediate_size=40,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                         max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=1e9, sliding_window=None),
        vision_config=dict(model_type="pixtral", hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, image_size=28, patch_size=14, num_channels=3, head_dim=8),
        image_token_index=10, vision_feature_layer=-1)
    mistral = randomize(Mistral3ForConditionalGeneration(mcfg))
    mistral.save_pretrained(os.path.join(out_dir, "mistral3-tiny"), safe_serialization=True, max_shard_size="120KB")
    ids3 = torch.randint(20, 512, (2, 10), generator=g)
    mask3 = torch.ones_like(ids3)
    ids3[0, :3], mask3[0, :3] = 11, 0  # left padding with <pad> = 11
    ids3[1, :1], mask3[1, :1] = 11, 0
    save_file({"ids": ids3.int(), "mask": mask3.int(), "embeds_1_2_3": embeds(mistral, ids3, mask3, (1, 2, 3))},
              os.path.join(out_dir, "mistral3-tiny", "io.safetensors"))
    print("wrote", out_dir)


if __name__ == "__main__":
    main()
