#!/usr/bin/env python3
"""Diffusers-parity fixtures for Flora's FLUX.2 transformer.

Builds diffusers' Flux2Transformer2DModel in two tiny configurations (with the
guidance embedder, like [dev], and without, like [klein]), randomises every
weight (RMSNorm scales too, so a missing scale is caught), saves the model with
diffusers' own save_pretrained into a diffusers-layout folder (the dev-like one
sharded, to exercise *.safetensors.index.json loading) and records inputs and
the forward output.

Usage: python3 tools/reference/flux2_transformer.py [OUT_DIR]
(default OUT_DIR: testdata/diffusers, relative to the repository root).
"""
import json
import os

import torch
from diffusers import Flux2Transformer2DModel
from safetensors.torch import save_file

import diffusers_folders

CONFIGS = {
    "flux2-tiny-dev": dict(guidance_embeds=True, shard="160KB"),
    "flux2-tiny-klein": dict(guidance_embeds=False, shard=None),
}


def build(guidance_embeds: bool, seed: int) -> Flux2Transformer2DModel:
    torch.manual_seed(seed)
    model = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=24,
        timestep_guidance_channels=256,
        mlp_ratio=3.0,
        axes_dims_rope=(4, 4, 4, 4),
        rope_theta=2000,
        guidance_embeds=guidance_embeds,
    )
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:  # RMSNorm scales: around 1, not exactly 1
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / (p.shape[-1] ** 0.5))
    return model.eval()


def ids(h: int, w: int, l: int):
    img = torch.tensor([[0, r, c, 0] for r in range(h) for c in range(w)], dtype=torch.float32)
    txt = torch.tensor([[0, 0, 0, i] for i in range(l)], dtype=torch.float32)
    return img, txt


def main():
    out_dir = diffusers_folders.out_dir()
    models = diffusers_folders.saved_models(CONFIGS, lambda opts, seed: build(opts["guidance_embeds"], seed), "transformer", out_dir)
    for seed, name, opts, model in models:
        g = torch.Generator().manual_seed(100 + seed)
        b, h, w, l = 2, 3, 4, 5
        x = torch.randn(b, h * w, 16, generator=g)
        ctx = torch.randn(b, l, 24, generator=g)
        t = torch.tensor([0.9, 0.25])
        guidance = torch.tensor([3.5, 1.0])
        img_ids, txt_ids = ids(h, w, l)
        with torch.no_grad():
            out = model(
                hidden_states=x,
                encoder_hidden_states=ctx,
                timestep=t,
                img_ids=img_ids,
                txt_ids=txt_ids,
                guidance=guidance if opts["guidance_embeds"] else None,
                return_dict=False,
            )[0]
        io = {
            "img": x,
            "ctx": ctx,
            "timesteps": t,
            "img_ids": img_ids.unsqueeze(0).repeat(b, 1, 1),
            "ctx_ids": txt_ids.unsqueeze(0).repeat(b, 1, 1),
            "out": out.contiguous(),
        }
        if opts["guidance_embeds"]:
            io["guidance"] = guidance
        meta = {
            "generator": "tools/reference/flux2_transformer.py",
            "torch": torch.__version__,
            "diffusers": __import__("diffusers").__version__,
            "config": json.dumps(dict(model.config)),
        }
        save_file(io, os.path.join(out_dir, name, "io.safetensors"), metadata=meta)
        print(f"{name}: {sum(p.numel() for p in model.parameters())} params, out {tuple(out.shape)}")


if __name__ == "__main__":
    main()
