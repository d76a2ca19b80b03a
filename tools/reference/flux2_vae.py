#!/usr/bin/env python3
"""Diffusers-parity fixtures for Flora's FLUX.2 autoencoder (model/vae).

Builds diffusers' AutoencoderKLFlux2 in two tiny configurations, randomises
every weight (GroupNorm scales and shifts too) and the latent BatchNorm running
statistics, saves each model with diffusers' own save_pretrained into a
diffusers-layout vae/ folder, and records the encode and decode paths exactly
as the Flux2 pipelines run them (pipeline_flux2.py):

  encode: latents = vae.encode(pixels).latent_dist.mode()        (posterior mean)
          latents = Flux2Pipeline._patchify_latents(latents)
          latents = (latents - bn.running_mean) / sqrt(bn.running_var + batch_norm_eps)
  decode: latents = dec_in * sqrt(bn.running_var + eps) + bn.running_mean
          latents = Flux2Pipeline._unpatchify_latents(latents)
          dec_out = vae.decode(latents).sample

Configurations:
  flux2-tiny-vae           block_out_channels (16, 32), decoder_block_out_channels
                           (8, 16) (a narrower decoder, like the "small decoder"),
                           layers_per_block 1, latent_channels 4, norm_num_groups 4
                           (not 32: the group count must come from config.json),
                           quant convs on.
  flux2-tiny-vae-pipeline  the diffusers pipeline-test VAE: block_out_channels (4,),
                           layers_per_block 1, latent_channels 1, norm_num_groups 1,
                           use_quant_conv / use_post_quant_conv False.

Usage: python3 tools/reference/flux2_vae.py [OUT_DIR]
(default OUT_DIR: testdata/diffusers, relative to the repository root).
"""
import os

import torch
from diffusers import AutoencoderKLFlux2
from diffusers.pipelines.flux2.pipeline_flux2 import Flux2Pipeline
from safetensors.torch import save_file

import diffusers_folders

CONFIGS = {
    "flux2-tiny-vae": dict(
        model=dict(
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            block_out_channels=(16, 32),
            decoder_block_out_channels=(8, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
            sample_size=32,
        ),
        pixels=(2, 3, 16, 24),
    ),
    "flux2-tiny-vae-pipeline": dict(
        model=dict(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",),
            up_block_types=("UpDecoderBlock2D",),
            block_out_channels=(4,),
            layers_per_block=1,
            latent_channels=1,
            norm_num_groups=1,
            use_quant_conv=False,
            use_post_quant_conv=False,
        ),
        pixels=(2, 3, 8, 8),
    ),
}


def build(cfg: dict, seed: int) -> AutoencoderKLFlux2:
    torch.manual_seed(seed)
    model = AutoencoderKLFlux2(**cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):  # GroupNorm scales around 1
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:  # conv / attention weights, fan-in scaled
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / fan_in**0.5)
        bn = model.bn
        bn.running_mean.copy_(0.5 * torch.randn_like(bn.running_mean))
        bn.running_var.copy_(0.5 + 1.5 * torch.rand_like(bn.running_var))
    return model.eval()


def bn_stats(model):
    mean = model.bn.running_mean.view(1, -1, 1, 1)
    std = torch.sqrt(model.bn.running_var.view(1, -1, 1, 1) + model.config.batch_norm_eps)
    return mean, std


def main():
    out_dir = diffusers_folders.out_dir()
    for seed, name, opts, model in diffusers_folders.saved_models(CONFIGS, lambda opts, seed: build(opts["model"], seed), "vae", out_dir):
        g = torch.Generator().manual_seed(200 + seed)
        pixels = torch.rand(*opts["pixels"], generator=g) * 2 - 1
        mean, std = bn_stats(model)
        with torch.no_grad():
            lat = model.encode(pixels).latent_dist.mode()
            lat = Flux2Pipeline._patchify_latents(lat)
            latents = (lat - mean) / std

            dec_in = torch.randn(latents.shape, generator=g)
            z = dec_in * std + mean
            z = Flux2Pipeline._unpatchify_latents(z)
            dec_out = model.decode(z).sample
        tensors = {"pixels": pixels, "latents": latents, "dec_in": dec_in, "dec_out": dec_out}
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_dir, name, "io.safetensors"))
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params} parameters, latents {list(latents.shape)}, dec_out {list(dec_out.shape)}")


if __name__ == "__main__":
    main()
