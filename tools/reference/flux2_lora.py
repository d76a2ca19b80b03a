#!/usr/bin/env python3
"""Diffusers/PEFT LoRA parity fixtures for Flora's lora package.

Loads the tiny diffusers FLUX.2 transformer written by flux2_transformer.py
(testdata/diffusers/flux2-tiny-dev), attaches a random-weight PEFT LoRA (B
non-zero, alpha != rank, different A per to_q/to_k/to_v, per-module rank and
alpha patterns), saves it with diffusers' own Flux2Pipeline.save_lora_weights,
and records the transformer output with the LoRA active on the io inputs.

Usage: python3 tools/reference/flux2_lora.py [OUT_DIR]  (default testdata/diffusers/flux2-tiny-dev-lora)
"""
import json
import os
import sys

import torch
from diffusers import Flux2Pipeline, Flux2Transformer2DModel
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import load_file, save_file

BASE = os.path.join("testdata", "diffusers", "flux2-tiny-dev")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("testdata", "diffusers", "flux2-tiny-dev-lora")
    os.makedirs(out_dir, exist_ok=True)
    model = Flux2Transformer2DModel.from_pretrained(os.path.join(BASE, "transformer")).eval()
    cfg = LoraConfig(
        r=4, lora_alpha=8, init_lora_weights=False,
        target_modules=["to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out",
                        "ff.linear_in", "ff.linear_out", "ff_context.linear_in", "to_qkv_mlp_proj",
                        "single_transformer_blocks.0.attn.to_out"],
        rank_pattern={"single_transformer_blocks.0.attn.to_qkv_mlp_proj": 2},
        alpha_pattern={"transformer_blocks.1.ff.linear_out": 3.0},
    )
    model.add_adapter(cfg)
    torch.manual_seed(5)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.2)
    io = load_file(os.path.join(BASE, "io.safetensors"))
    with torch.no_grad():
        out = model(hidden_states=io["img"], encoder_hidden_states=io["ctx"], timestep=io["timesteps"],
                    img_ids=io["img_ids"][0], txt_ids=io["ctx_ids"][0], guidance=io["guidance"], return_dict=False)[0]
    Flux2Pipeline.save_lora_weights(out_dir, transformer_lora_layers=get_peft_model_state_dict(model),
                                    transformer_lora_adapter_metadata=cfg.to_dict(), weight_name="lora.safetensors")
    save_file({"out_lora": out.contiguous()}, os.path.join(out_dir, "io.safetensors"))
    sd = load_file(os.path.join(out_dir, "lora.safetensors"))
    print(len(sd), "tensors, e.g.", sorted(sd)[:3])


if __name__ == "__main__":
    main()
