#!/usr/bin/env python3
"""Checks Flora's LoRA files with ComfyUI's own loader (run by hand).

ComfyUI is not on PyPI: give it a ComfyUI source folder (a git checkout or an
extracted archive). The script

  1. exports Flora's built-in tiny FLUX.2 transformer in the official layout
     (`flora model export embedded:tiny --layout official`);
  2. trains a small adapter on examples/tiny for a few steps (`flora train`:
     rank 4 / alpha 6 by default, single blocks rank 2 / alpha 3, the img
     layers of double block 1 rank 6 / alpha 2; every layer adapted) and has
     the run export each format Flora writes: NAME.safetensors (ComfyUI names,
     the primary file), NAME.kohya.safetensors and NAME.diffusers.safetensors;
  3. merges each file into the base with `flora lora merge` (the reference
     for "applied correctly");
  4. for each file, builds ComfyUI's FLUX.2 model from the exported base
     (comfy.sd.load_diffusion_model_state_dict, on the CPU), loads the file
     with comfy.sd.load_lora_for_models(model, None, lora, 1.0, 0), patches
     the weights (ModelPatcher.patch_model) and compares every weight with
     Flora's merge: per adapted module the relative error of ComfyUI's
     update, ||W_comfy - W_flora|| / ||W_flora - W_base||; the modules
     ComfyUI applied and the ones it left out (the file's keys ComfyUI logged
     as "lora key not loaded"), and any other weight it changed.

It writes a small JSON (default: comfyui_check.json next to diffusers_check.json
in testdata/diffusers/flux2-tiny-dev-lora/flora-export; its adapter is the one
trained here on embedded:tiny, not that folder's files), read by
lora/export_check_test.go TestComfyUILoadsFloraExports, with the ComfyUI
version and commit, torch, and Flora's version and commit.

ComfyUI's model detection hard-codes the full-size FLUX.2 head count (48),
rope axes ([32]*4) and output channels (128), so it cannot build the tiny
model as detected. The script wraps comfy.model_detection.detect_unet_config
to set those three values from the checkpoint's shapes (head width from
double_blocks.0.img_attn.norm.key_norm.scale, num_heads = hidden / head
width, axes_dim = 4 x head width / 4, out_channels from final_layer.linear);
everything else (model class, key maps, LoRA loading, patching) is ComfyUI's
own, unchanged. The JSON lists the overridden values.

Run by hand, from the repository root:

  go build -o /tmp/flora ./cmd/flora
  python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install -r tools/reference/requirements.txt
  /tmp/refenv/bin/pip install torchvision    # ComfyUI imports it (use --no-deps if no build matches your torch)
  git clone https://github.com/comfyanonymous/ComfyUI /tmp/comfyui
  /tmp/refenv/bin/python tools/reference/comfyui_check.py --comfyui /tmp/comfyui --flora /tmp/flora

ComfyUI's other requirements (comfy-kitchen, torchaudio, ...) are optional
here: it logs that they are missing and carries on. Takes about a minute on a
CPU. --comfyui-commit records the commit of a folder that is not a git
checkout.
"""
import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file

DEFAULT_OUT = os.path.join("testdata", "diffusers", "flux2-tiny-dev-lora", "flora-export", "comfyui_check.json")

# The training run: every layer, alpha != rank, per-layer ranks and alphas.
TRAIN_SETS = [
    "train.steps={steps}", "train.warmup_steps=0", "train.lr=1e-2", "train.save_every=0", "sample.every=0",
    "adapter.targets=all", "adapter.rank=4", "adapter.alpha=6",
    'adapter.overrides=[{{pattern: "single_blocks.*", rank: 2, alpha: 3}}, {{pattern: "double_blocks.1.img_*", rank: 6, alpha: 2}}]',
    "output.formats=[comfy, kohya, diffusers]",
]

# The files the run writes, by format (Flora's format names).
FORMAT_FILES = {"comfy": "tiny-demo.safetensors", "kohya": "tiny-demo.kohya.safetensors",
                "diffusers": "tiny-demo.diffusers.safetensors"}


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw).stdout


def comfy_modules(path):
    """The official module paths of a ComfyUI-named Flora file."""
    with safe_open(path, "pt") as f:
        return sorted({k[len("diffusion_model."):-len(".lora_A.weight")] for k in f.keys() if k.endswith(".lora_A.weight")})


def adapter_shape(path):
    """Each module's rank and alpha in a ComfyUI-named file."""
    sd = load_file(path)
    out = {}
    for m in comfy_modules(path):
        stem = "diffusion_model." + m
        out[m] = {"rank": sd[stem + ".lora_A.weight"].shape[0], "alpha": float(sd[stem + ".alpha"].reshape(-1)[0])}
    return out


class KeyLog(logging.Handler):
    """Collects ComfyUI's LoRA loader warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.not_loaded, self.not_patched = [], []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("lora key not loaded: "):
            self.not_loaded.append(msg[len("lora key not loaded: "):])
        elif msg.startswith("NOT LOADED "):
            self.not_patched.append(msg[len("NOT LOADED "):])


def import_comfy(folder):
    sys.path.insert(0, os.path.abspath(folder))
    import comfy.cli_args
    comfy.cli_args.args.cpu = True  # before comfy.model_management is imported
    import comfy.model_detection
    import comfy.sd
    import comfy.utils

    overrides = {}
    detect = comfy.model_detection.detect_unet_config

    def detect_tiny(state_dict, key_prefix, metadata=None):
        cfg = detect(state_dict, key_prefix, metadata=metadata)
        if cfg is not None and cfg.get("image_model") == "flux2":
            head = state_dict[key_prefix + "double_blocks.0.img_attn.norm.key_norm.scale"].shape[0]
            fixed = {"num_heads": cfg["hidden_size"] // head, "axes_dim": [head // 4] * 4,
                     "out_channels": state_dict[key_prefix + "final_layer.linear.weight"].shape[0]}
            for k, v in fixed.items():
                if cfg.get(k) != v:
                    overrides[k] = {"detected": cfg.get(k), "set": v}
                    cfg[k] = v
        return cfg

    comfy.model_detection.detect_unet_config = detect_tiny
    return comfy, overrides


def comfyui_version(folder, commit):
    version = None
    vf = os.path.join(folder, "comfyui_version.py")
    if os.path.exists(vf):
        scope = {}
        exec(open(vf).read(), scope)
        version = scope.get("__version__")
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], check=True, capture_output=True,
                                    text=True).stdout.strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            commit = "unknown"
    return version, commit


def flora_commit():
    """The repository's HEAD, "-dirty" with uncommitted changes to tracked files."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"]).returncode != 0
    return head + ("-dirty" if dirty else "")


def rel(a, b):
    d = torch.linalg.vector_norm((a - b).double()).item()
    n = torch.linalg.vector_norm(b.double()).item()
    return d / n if n > 0 else (0.0 if d == 0 else float("inf"))


def check_format(comfy, base_sd, lora_path, merged_path, modules):
    model = comfy.sd.load_diffusion_model_state_dict(dict(base_sd), model_options={"dtype": torch.float32})
    if model is None:
        raise RuntimeError("ComfyUI could not build a model from the exported base")
    log = KeyLog()
    logging.getLogger().addHandler(log)
    try:
        lora = comfy.utils.load_torch_file(lora_path, safe_load=True)
        patcher, _ = comfy.sd.load_lora_for_models(model, None, lora, 1.0, 0)
    finally:
        logging.getLogger().removeHandler(log)
    patched_keys = sorted(patcher.patches.keys())
    patcher.patch_model(device_to=torch.device("cpu"), force_patch_weights=True)
    got = {k[len("diffusion_model."):]: v.detach().float().cpu() for k, v in patcher.model.state_dict().items()
           if k.startswith("diffusion_model.")}
    want = load_file(merged_path)

    applied = {k[len("diffusion_model."):-len(".weight")] for k in patched_keys}
    rel_update, update_vs_base, others_changed = {}, [], []
    for name, base in base_sd.items():
        w_comfy, w_flora = got[name], want[name]
        m = name[:-len(".weight")] if name.endswith(".weight") else None
        if m in modules:
            update_vs_base.append(rel(w_flora, base))
            if m in applied:
                # How far ComfyUI's update is from Flora's, relative to Flora's.
                rel_update[m] = rel(w_comfy - base, w_flora - base)
        elif not torch.equal(w_comfy, base):
            others_changed.append(name)
    return {
        "modules_applied": len(rel_update),
        # Adapted modules whose weight ComfyUI left as it was.
        "modules_not_loaded": [m for m in modules if m not in applied],
        # What ComfyUI logged: "lora key not loaded: KEY" (the file's keys
        # no key map matched) and "NOT LOADED KEY" (mapped to no weight).
        "keys_not_loaded": sorted(log.not_loaded),
        "patches_not_applied": sorted(log.not_patched),
        "max_rel_update_applied": max(rel_update.values()) if rel_update else None,
        # ||W_flora - W_base|| / ||W_base||, smallest over the modules: how
        # much the adapter moves the weights (the check means something).
        "min_update_vs_base": min(update_vs_base),
        "other_weights_changed": others_changed,
        "rel_update": rel_update,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--comfyui", required=True, help="ComfyUI source folder")
    ap.add_argument("--flora", required=True, help="the flora binary (go build -o /tmp/flora ./cmd/flora)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="JSON to write (default %(default)s)")
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    ap.add_argument("--steps", type=int, default=12, help="training steps (default %(default)s)")
    ap.add_argument("--comfyui-commit", help="ComfyUI commit, when --comfyui is not a git checkout")
    args = ap.parse_args()
    if not os.path.exists(os.path.join("examples", "tiny", "train.yaml")):
        sys.exit("run from the Flora repository root")
    flora = os.path.abspath(args.flora)
    work = args.work or tempfile.mkdtemp(prefix="flora-comfyui-")
    os.makedirs(work, exist_ok=True)

    base_dir, run_dir = os.path.join(work, "base"), os.path.join(work, "run")
    run([flora, "model", "export", "embedded:tiny", "--layout", "official", "--out", base_dir, "--overwrite"])
    base_path = os.path.join(base_dir, "flux2-embedded-tiny.safetensors")
    sets = []
    for s in TRAIN_SETS + ["output.dir=" + run_dir]:
        sets += ["--set", s.format(steps=args.steps)]
    run([flora, "train", "--config", os.path.join("examples", "tiny", "train.yaml"), "--overwrite"] + sets)

    primary = os.path.join(run_dir, FORMAT_FILES["comfy"])
    modules = comfy_modules(primary)
    comfy, overrides = import_comfy(args.comfyui)
    base_sd = load_file(base_path)
    version, commit = comfyui_version(args.comfyui, args.comfyui_commit)
    result = {
        "comfyui": version, "comfyui_commit": commit, "torch": torch.__version__,
        "python": platform.python_version(),
        "flora": run([flora, "version"]).splitlines()[0], "flora_commit": flora_commit(),
        "base": "embedded:tiny (flora model export --layout official)",
        "loader": "comfy.sd.load_lora_for_models(model, None, lora, 1.0, 0) + ModelPatcher.patch_model",
        "detection_overrides": overrides,
        "adapter": {"train_sets": [s.format(steps=args.steps) for s in TRAIN_SETS], "modules": adapter_shape(primary)},
        "formats": {},
    }
    for fmt, name in FORMAT_FILES.items():
        path = os.path.join(run_dir, name)
        merged = os.path.join(work, "merged-" + fmt + ".safetensors")
        run([flora, "lora", "merge", "--base", base_path, "--lora", path, "--out", merged])
        r = check_format(comfy, base_sd, path, merged, modules)
        r["file"] = name
        result["formats"][fmt] = r
        print(f"{fmt}: {r['modules_applied']}/{len(modules)} modules applied, max rel error "
              f"{r['max_rel_update_applied']}, not loaded {r['modules_not_loaded']}", flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
