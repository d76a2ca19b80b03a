#!/usr/bin/env python3
"""PyTorch twin of `flora bench` (cmd/flora/cmd_bench.go) for side-by-side timings.

Builds diffusers' Flux2Transformer2DModel with the shapes of a `flora bench`
variant (random weights) and times, on the same token counts:

  forward  the transformer forward without adapters, without autograd
           (what `flora bench --mode forward` runs);
  train    one LoRA training step (what `flora bench --mode train` runs): PEFT
           LoRA of rank --rank (alpha = rank) injected with
           peft.inject_adapter_in_model into every linear layer inside the
           double and single blocks (Flora's "blocks" preset), base frozen;
           flow-matching noise and target made each step, forward, MSE loss,
           backward, gradient clipping at norm 1, AdamW (lr 1e-4, betas
           0.9/0.999, eps 1e-8, no weight decay), batch --batch.

Flora trains on the official layout, where q/k/v of each double-block stream
are one fused layer with one LoRA. diffusers splits them; by default the
model's fuse_qkv_projections() fuses them back (to_qkv / to_added_qkv), so both
sides adapt the same layers with the same LoRA shapes and FLOPs. --split-qkv
keeps diffusers' split layout instead (one LoRA each on q, k and v).

One warm-up step, then --steps measured steps; prints one JSON line (mode,
tokens, ms_per_step, first_step_ms, peak_rss_bytes, ...), the same keys as
`flora bench --json`. Peak RSS is the process's VmHWM (it includes torch
itself).

Usage (venv as in requirements.txt, e.g. /tmp/refenv):
  python3 tools/reference/bench_torch.py --variant small --mode train --res 512 --text 128 --rank 16 --threads 2
scripts/bench-vs-torch.sh runs this and `flora bench` side by side.
"""
import argparse
import json
import os
import sys
import time

import torch

# Shapes of the `flora bench` variants: "small" is benchVariant in
# cmd/flora/cmd_bench.go, the others are model/flux2/config.go's configs.
# in_channels, joint_attention_dim (context), hidden, heads, double, single, axes, guidance embedder
VARIANTS = {
    "small": (64, 128, 256, 4, 2, 4, (16, 16, 16, 16), True),
    "tiny": (16, 40, 96, 3, 2, 2, (8, 8, 8, 8), True),
    "klein-4b": (128, 7680, 3072, 24, 5, 20, (32, 32, 32, 32), False),
    "klein-9b": (128, 12288, 4096, 32, 8, 24, (32, 32, 32, 32), False),
    "dev": (128, 15360, 6144, 48, 8, 48, (32, 32, 32, 32), True),
}
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def build(variant, dtype, device):
    from diffusers import Flux2Transformer2DModel

    cin, ctx, hidden, heads, depth, single, axes, guidance = VARIANTS[variant]
    torch.manual_seed(1)
    model = Flux2Transformer2DModel(
        patch_size=1, in_channels=cin, num_layers=depth, num_single_layers=single,
        attention_head_dim=hidden // heads, num_attention_heads=heads, joint_attention_dim=ctx,
        timestep_guidance_channels=256, mlp_ratio=3.0, axes_dims_rope=axes, rope_theta=2000,
        guidance_embeds=guidance,
    )
    return model.to(device=device, dtype=dtype)


def fuse_qkv(model):
    """Fuses q/k/v of each double-block stream into one layer (the official
    layout Flora trains on) and drops the then unused split layers."""
    model.fuse_qkv_projections()
    for m in model.modules():
        if getattr(m, "fused_projections", False):
            for name in ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj"):
                if hasattr(m, name):
                    delattr(m, name)
    return model


def block_linear_names(model):
    """Every nn.Linear inside the double and single blocks (Flora's "blocks" preset)."""
    return sorted(name for name, m in model.named_modules()
                  if isinstance(m, torch.nn.Linear)
                  and name.split(".")[0] in ("transformer_blocks", "single_transformer_blocks"))


def inject_lora(model, rank):
    from peft import LoraConfig, inject_adapter_in_model

    names = block_linear_names(model)
    cfg = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0,
                     target_modules="^(" + "|".join(n.replace(".", r"\.") for n in names) + ")$")
    model = inject_adapter_in_model(cfg, model)
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return model, names


def ids(h, w, l, device):
    img = torch.tensor([[0, r, c, 0] for r in range(h) for c in range(w)], dtype=torch.float32, device=device)
    txt = torch.tensor([[0, 0, 0, i] for i in range(l)], dtype=torch.float32, device=device)
    return img, txt


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="small", choices=sorted(VARIANTS))
    ap.add_argument("--mode", default="train", choices=["forward", "train"])
    ap.add_argument("--res", type=int, default=512, help="image side in pixels (latent tokens = (res/16)^2)")
    ap.add_argument("--text", type=int, default=512, help="text tokens")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rank", type=int, default=16, help="LoRA rank (train mode)")
    ap.add_argument("--steps", type=int, default=3, help="measured steps (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    ap.add_argument("--dtype", default="f32", choices=sorted(DTYPES))
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--split-qkv", action="store_true", help="LoRA on diffusers' split q/k/v instead of the fused layers")
    ap.add_argument("--checkpointing", action="store_true", help="gradient checkpointing (train mode)")
    args = ap.parse_args()
    if args.res % 16 or args.res < 16 or args.steps < 1 or args.batch < 1 or args.rank < 1 or args.threads < 1:
        ap.error("--res must be a multiple of 16; --steps, --batch, --rank and --threads >= 1")

    torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    model = build(args.variant, dtype, device)
    params = sum(p.numel() for p in model.parameters())
    if not args.split_qkv:
        fuse_qkv(model)
    h = args.res // 16
    n, L, b = h * h, args.text, args.batch
    cin, ctxdim = VARIANTS[args.variant][0], VARIANTS[args.variant][1]
    gen = torch.Generator(device="cpu").manual_seed(2)
    img_ids, txt_ids = ids(h, h, L, device)
    ctx = torch.randn(b, L, ctxdim, generator=gen).to(device, dtype)
    guidance = torch.ones(b, device=device, dtype=dtype) if VARIANTS[args.variant][7] else None
    result = {"impl": "pytorch", "variant": args.variant, "mode": args.mode, "backend": args.device,
              "dtype": args.dtype, "batch": b, "image_tokens": n, "text_tokens": L, "parameters": params,
              "threads": args.threads, "checkpointing": args.checkpointing and args.mode == "train",
              "steps": args.steps, "torch": torch.__version__}

    if args.mode == "forward":
        model.eval()
        x = torch.randn(b, n, cin, generator=gen).to(device, dtype)
        t = torch.full((b,), 0.5, device=device, dtype=dtype)

        def step():
            with torch.inference_mode():
                model(hidden_states=x, encoder_hidden_states=ctx, timestep=t, img_ids=img_ids, txt_ids=txt_ids,
                      guidance=guidance, return_dict=False)
            sync(device)
    else:
        model, targets = inject_lora(model, args.rank)
        if args.checkpointing:
            model.enable_gradient_checkpointing()
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        x0 = torch.randn(b, n, cin, generator=gen).to(device, dtype)
        result.update(rank=args.rank, lora_targets=len(targets), lora_parameters=sum(p.numel() for p in trainable))

        def step():
            t = torch.rand(b, generator=gen).to(device, dtype)
            eps = torch.randn(b, n, cin, generator=gen).to(device, dtype)
            xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * eps
            pred = model(hidden_states=xt, encoder_hidden_states=ctx, timestep=t, img_ids=img_ids, txt_ids=txt_ids,
                         guidance=guidance, return_dict=False)[0]
            loss = torch.nn.functional.mse_loss(pred.float(), (eps - x0).float())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sync(device)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    fastest = None
    for _ in range(args.steps):
        ts = time.perf_counter()
        step()
        d = time.perf_counter() - ts
        fastest = d if fastest is None else min(fastest, d)
    per = (time.perf_counter() - t1) / args.steps
    result.update(first_step_ms=first * 1e3, ms_per_step=per * 1e3, min_step_ms=fastest * 1e3,
                  peak_rss_bytes=peak_rss_bytes())
    if device.type == "cuda":
        result["gpu_memory_bytes"] = torch.cuda.max_memory_allocated(device)
    try:
        import diffusers
        import peft
        result.update(diffusers=diffusers.__version__, peft=peft.__version__)
    except ImportError:
        pass
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
