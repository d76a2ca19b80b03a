#!/usr/bin/env python3
"""Parity fixtures for Flora's Prodigy and Adafactor optimizers (train/prodigy.go, train/adafactor.go).

Runs prodigyopt.Prodigy and transformers.optimization.Adafactor for a few steps on a small
problem: three float32 parameters, "a" [8, 12] and "b" [12] drawn from a seeded normal and
"c" [4, 8] all zeros (like a LoRA up matrix: Prodigy's p0 and Adafactor's RMS(p) = 0 cases),
with a fixed sequence of gradients drawn from the same seed (each step at another scale).
Gradients are clipped with torch.nn.utils.clip_grad_norm_ first when a case sets
max_grad_norm, as the trainers (ai-toolkit, OneTrainer, diffusers scripts) do.

Each case records the initial parameters, the per-step gradients and lr, and after every
step the parameters, the gradient norm before clipping and, for Prodigy, d, d_max and
d_numerator. Flora's tests feed the same gradients to its optimizers and compare.

Usage (venv with: pip install torch transformers prodigyopt numpy):
  python tools/reference/optim_reference.py --out testdata/optim
"""
import argparse
import importlib.metadata as md
import json
import os

import numpy as np
import torch

from prodigyopt import Prodigy
from transformers.optimization import Adafactor

SHAPES = {"a": [8, 12], "b": [12], "c": [4, 8]}
STEPS = 6
SEED = 20

# name, optimizer, constructor kwargs, lr per step (None for relative-step Adafactor), max_grad_norm
CASES = [
    ("prodigy_defaults", "prodigy", {"lr": 1.0}, [1.0] * STEPS, 0.0),
    ("prodigy_decoupled_wd_bias_correction_clip", "prodigy",
     {"lr": 1.0, "weight_decay": 0.01, "decouple": True, "use_bias_correction": True, "d_coef": 2.0,
      "growth_rate": 1.5}, [1.0] * STEPS, 1.0),
    ("prodigy_coupled_wd_safeguard_beta3_lr_schedule", "prodigy",
     {"lr": 1.0, "weight_decay": 0.01, "decouple": False, "safeguard_warmup": True, "beta3": 0.99, "d0": 1e-5,
      "betas": (0.8, 0.99), "eps": 1e-6}, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], 0.0),
    ("adafactor_manual_lr", "adafactor",
     {"lr": 1e-2, "relative_step": False, "scale_parameter": False, "warmup_init": False}, [1e-2] * STEPS, 0.0),
    ("adafactor_transformers_defaults", "adafactor", {}, [None] * STEPS, 0.0),
    ("adafactor_warmup_init_beta1_wd_clip", "adafactor",
     {"relative_step": True, "scale_parameter": True, "warmup_init": True, "beta1": 0.9, "weight_decay": 0.01,
      "clip_threshold": 0.5, "decay_rate": -0.7}, [None] * STEPS, 1.0),
    ("adafactor_manual_scale_parameter_beta1", "adafactor",
     {"lr": 5e-2, "relative_step": False, "scale_parameter": True, "beta1": 0.9, "weight_decay": 0.05,
      "eps": (1e-20, 1e-2)}, [5e-2] * STEPS, 0.0),
]


def problem():
    rng = np.random.default_rng(SEED)
    init = {"a": rng.standard_normal(SHAPES["a"]).astype(np.float32),
            "b": rng.standard_normal(SHAPES["b"]).astype(np.float32),
            "c": np.zeros(SHAPES["c"], np.float32)}
    # A fixed direction plus noise, as the gradients of a loss with a steady slope: Prodigy's
    # d estimate grows (with pure noise it would stay at d0).
    direction = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    grads = []
    for step in range(STEPS):
        scale = [1.0, 0.3, 2.0, 0.05, 1.0, 0.5][step]
        grads.append({k: (scale * (direction[k] + 0.5 * rng.standard_normal(s))).astype(np.float32)
                      for k, s in SHAPES.items()})
    return init, grads


def f32list(a):
    """The values of a float32 array, each as the shortest decimal that reads back exactly."""
    return [float(np.format_float_positional(x, unique=True, trim="-")) if abs(x) >= 1e-4 or x == 0
            else float(np.format_float_scientific(x, unique=True, trim="-")) for x in np.asarray(a, np.float32).ravel()]


def run(opt_name, kwargs, lrs, max_norm, init, grads):
    params = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    plist = [params[k] for k in SHAPES]
    opt = Prodigy(plist, **kwargs) if opt_name == "prodigy" else Adafactor(plist, **kwargs)
    steps = []
    for lr, g in zip(lrs, grads):
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in plist]))
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(plist, max_norm)
        if lr is not None:
            for group in opt.param_groups:
                group["lr"] = lr
        opt.step()
        rec = {"params": {k: f32list(p.detach().numpy()) for k, p in params.items()},
               "grad_norm": float(norm)}
        if opt_name == "prodigy":
            group = opt.param_groups[0]
            rec.update(d=float(group["d"]), d_max=float(group["d_max"]), d_numerator=float(group["d_numerator"]),
                       k=int(group["k"]))
        steps.append(rec)
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for optim_reference.json")
    args = ap.parse_args()
    torch.manual_seed(0)
    init, grads = problem()
    cases = []
    for name, opt_name, kwargs, lrs, max_norm in CASES:
        kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
        cases.append({"name": name, "optimizer": opt_name, "kwargs": kw, "lr": lrs, "max_grad_norm": max_norm,
                      "steps": run(opt_name, kwargs, lrs, max_norm, init, grads)})
    out = {
        "versions": {p: md.version(p) for p in ("torch", "transformers", "prodigyopt", "numpy")},
        "shapes": SHAPES,
        "init": {k: f32list(v) for k, v in init.items()},
        "grads": [{k: f32list(v) for k, v in g.items()} for g in grads],
        "cases": cases,
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "optim_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(cases)} cases x {STEPS} steps")


if __name__ == "__main__":
    main()
