#!/usr/bin/env python3
"""Diffusers-parity fixtures for FLUX.2 reference images (multi-reference
editing): model/flux2.References and sample.Sampler with Request.References.

Reuses the tiny random models committed by flux2_transformer.py
(testdata/diffusers/flux2-tiny-dev and flux2-tiny-klein: 16 input channels)
and flux2_vae.py (testdata/diffusers/flux2-tiny-vae: 4 latent channels, 16
after the 2x2 patchify, 4 pixels per latent token), so nothing new is
randomised except the inputs. Writes into OUT_DIR/flux2-tiny-refs:

  ref0.png, ref1.png   two RGB references of different sizes (64x64 and
                       96x64, multiples of 4 and >= 64 px a side, so both
                       BFL's and diffusers' preprocessing leave them as they are)
  refs.safetensors     ref_tokens [1, R, 16] and ref_ids [1, R, 4] exactly as
                       Flux2Pipeline.prepare_image_latents builds them
                       (VAE posterior mode, patchify, BatchNorm, pack, concat;
                       _prepare_image_ids: t = 10 + 10k, h, w, l = 0)
  dev.safetensors,     per transformer:
  klein.safetensors      forward:  img [1, N, 16] (target tokens), ctx, ctx_ids,
                                   timesteps, guidance (dev), img_ids [1, N+R, 4]
                                   (target ids then ref_ids), out [1, N+R, 16]
                                   (the transformer on target + reference tokens)
                         sample:   sample_noise [1, 16, 8, 12] (initial latents,
                                   unpacked), sample_ctx [1, L, 24],
                                   sample_negative (klein: CFG), sample_out
                                   [1, N, 16] (Flux2Pipeline / Flux2KleinPipeline
                                   with image=[ref0, ref1]: the packed latents
                                   after the last step)
  meta.json            versions and settings.

Usage: python3 tools/reference/flux2_refs.py [OUT_DIR]
(default OUT_DIR: testdata/diffusers, relative to the repository root; the
tiny model folders are read from there too).
"""
import json
import os

import numpy as np
import torch
from diffusers import (AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline, Flux2Pipeline,
                       Flux2Transformer2DModel)
from PIL import Image
from safetensors.torch import save_file

import diffusers_folders

TARGET = (32, 48)  # height, width in pixels: 8x12 latent tokens
STEPS = 3
SETTINGS = {
    "dev": dict(folder="flux2-tiny-dev", pipeline=Flux2Pipeline, guidance=3.5, cfg=False),
    "klein": dict(folder="flux2-tiny-klein", pipeline=Flux2KleinPipeline, guidance=2.0, cfg=True),
}
# FLUX.2's scheduler_config.json (black-forest-labs/FLUX.2-dev); mu comes from the pipeline.
SCHEDULER = dict(base_image_seq_len=256, base_shift=0.5, max_image_seq_len=4096, max_shift=1.15,
                 num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, time_shift_type="exponential")


def reference_images(g: torch.Generator):
    """Two smooth-plus-noise RGB images: 64x64 and 96 wide x 64 high."""
    out = []
    for w, h in ((64, 64), (96, 64)):
        yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        base = torch.stack([xx, yy, 1 - xx * yy]) * 200
        px = (base + 55 * torch.rand(3, h, w, generator=g)).clamp(0, 255).to(torch.uint8)
        out.append(Image.fromarray(px.permute(1, 2, 0).numpy(), "RGB"))
    return out


def main():
    root = diffusers_folders.out_dir()
    out = os.path.join(root, "flux2-tiny-refs")
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(1900)
    refs = reference_images(g)
    for i, im in enumerate(refs):
        im.save(os.path.join(out, f"ref{i}.png"))
    # Read them back, as the Go test does.
    refs = [Image.open(os.path.join(out, f"ref{i}.png")).convert("RGB") for i in range(len(refs))]
    vae = AutoencoderKLFlux2.from_pretrained(os.path.join(root, "flux2-tiny-vae"), subfolder="vae").eval()
    meta = {
        "generator": "tools/reference/flux2_refs.py",
        "torch": torch.__version__,
        "diffusers": __import__("diffusers").__version__,
        "target_hw": list(TARGET),
        "steps": STEPS,
        "models": {},
    }
    h, w = TARGET[0] // 4, TARGET[1] // 4
    ref_tokens = ref_ids = None
    for seed, (name, s) in enumerate(SETTINGS.items()):
        tr = Flux2Transformer2DModel.from_pretrained(os.path.join(root, s["folder"]), subfolder="transformer").eval()
        sched = FlowMatchEulerDiscreteScheduler(**SCHEDULER)
        pipe = s["pipeline"](scheduler=sched, vae=vae, text_encoder=None, tokenizer=None, transformer=tr)
        # The pipeline's own preprocessing and reference encoding.
        cond = [pipe.image_processor.preprocess(im, height=im.height, width=im.width, resize_mode="crop") for im in refs]
        with torch.no_grad():
            tokens, ids = pipe.prepare_image_latents(images=cond, batch_size=1, generator=None, device="cpu", dtype=torch.float32)
        if ref_tokens is None:
            ref_tokens, ref_ids = tokens, ids
            save_file({"ref_tokens": tokens.contiguous(), "ref_ids": ids.float().contiguous()},
                      os.path.join(out, "refs.safetensors"))
        gi = torch.Generator().manual_seed(1910 + seed)
        n = h * w
        x = torch.randn(1, n, 16, generator=gi)
        ctx = torch.randn(1, 5, 24, generator=gi)
        t = torch.tensor([0.7])
        guidance = torch.tensor([s["guidance"]])
        img_ids = torch.cat([pipe._prepare_latent_ids(torch.zeros(1, 16, h, w)), ids], dim=1).float()
        ctx_ids = pipe._prepare_text_ids(ctx).float()
        with torch.no_grad():
            fwd = tr(hidden_states=torch.cat([x, tokens], dim=1), encoder_hidden_states=ctx, timestep=t,
                     img_ids=img_ids, txt_ids=ctx_ids, guidance=guidance if tr.config.guidance_embeds else None,
                     return_dict=False)[0]
        noise = torch.randn(1, 16, h, w, generator=gi)
        pctx = torch.randn(1, 5, 24, generator=gi)
        kwargs = dict(image=refs, prompt_embeds=pctx, latents=noise, height=TARGET[0], width=TARGET[1],
                      num_inference_steps=STEPS, guidance_scale=s["guidance"], output_type="latent")
        io = {"img": x, "ctx": ctx, "ctx_ids": ctx_ids, "timesteps": t, "img_ids": img_ids, "out": fwd,
              "sample_noise": noise, "sample_ctx": pctx}
        if tr.config.guidance_embeds:
            io["guidance"] = guidance
        if s["cfg"]:
            neg = torch.randn(1, 5, 24, generator=gi)
            kwargs["negative_prompt_embeds"] = neg
            io["sample_negative"] = neg
        # The packed latents after the last step (Flux2KleinPipeline's
        # "latent" output is denormalised and unpatchified; this is not).
        final = {}

        def keep(_pipe, _i, _t, cb):
            final["latents"] = cb["latents"].clone()
            return {}

        with torch.no_grad():
            pipe(**kwargs, callback_on_step_end=keep)
        res = final["latents"]
        io["sample_out"] = res
        save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out, f"{name}.safetensors"))
        meta["models"][name] = {"folder": s["folder"], "pipeline": s["pipeline"].__name__, "guidance": s["guidance"],
                                "cfg": s["cfg"], "scheduler": SCHEDULER}
        print(f"{name}: refs {tuple(tokens.shape)}, forward {tuple(fwd.shape)}, sample {tuple(res.shape)}")
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
