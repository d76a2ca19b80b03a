#!/usr/bin/env python3
"""Runs a Flora LoRA adapter through Black Forest Labs' official FLUX.2 code.

The official tiny fixture (testdata/flux2-official-tiny, a copy of
shared/fixtures/flux2-official-tiny) holds a random tiny transformer in the
official key names and forward inputs. This script builds the *official*
model class (flux2.model.Flux2 from github.com/black-forest-labs/flux2) from
that transformer.safetensors, adds an adapter's update to its weights, runs
the official forward on transformer_io.safetensors's inputs and writes the
output. TestOfficialCodeAppliesTrainedLoRA (lora/format_test.go)
asserts that Flora, applying the same adapter its own way, gives the same
output: an adapter Flora trained on the fixture is checked by code Flora did
not write.

Adapter file (ComfyUI naming, what `flora` writes with --format comfy):
  diffusion_model.<official module>.lora_A.weight   [rank, in]
  diffusion_model.<official module>.lora_B.weight   [out, rank]
  diffusion_model.<official module>.alpha           scalar or [1] (optional:
                                                    absent means alpha = rank)
The "diffusion_model." prefix is optional. Any dtype is read as float32.
Effective weight: W + (alpha/rank)·B·A. A key that is not one of these, a
module the official model does not have (or that has no 2-D .weight), and a
factor shape that does not fit the weight are errors, all listed at once.

Setup (once; the official code needs torch and einops only):
  venv with tools/reference/requirements.txt, plus:  pip install einops==0.8.1
  the official checkout, e.g. from a bare mirror:
    mkdir /tmp/flux2-official && git -C MIRROR archive HEAD -- src pyproject.toml \\
      | tar -x -C /tmp/flux2-official && git -C MIRROR rev-parse HEAD > /tmp/flux2-official/COMMIT
  (a normal `git clone` works as is). The commit recorded in the output is
  `git rev-parse HEAD` of --flux2-src, else the first line of --flux2-src/COMMIT,
  else --flux2-commit.

Usage (from the repository root):
  # check a Flora adapter and (re)write the committed pair's reference output
  python tools/reference/official_lora_check.py --flux2-src /tmp/flux2-official \\
      --lora lora/testdata/official-trained/adapter.safetensors \\
      --out lora/testdata/official-trained/official_out.safetensors
  # validate this script: the fixture's own LoRA must reproduce lora_io's out_lora
  python tools/reference/official_lora_check.py --flux2-src /tmp/flux2-official \\
      --lora testdata/flux2-official-tiny/lora.safetensors --out /tmp/out.safetensors \\
      --expect testdata/flux2-official-tiny/lora_io.safetensors
  # write a random stand-in adapter to --lora first (rank 3 and 2, alphas 5
  # and 7, seven modules incl. global ones), then check it as above
  python tools/reference/official_lora_check.py --flux2-src /tmp/flux2-official --make-standin \\
      --lora lora/testdata/official-trained/adapter.safetensors \\
      --out lora/testdata/official-trained/official_out.safetensors

Options:
  --fixture DIR   the official tiny fixture (default testdata/flux2-official-tiny
                  under the repository root; ../shared/fixtures/flux2-official-tiny
                  is used when that is missing)
  --expect FILE   a safetensors file whose `out_lora` the output must match
                  (relative L2 ≤ --tol, default 1e-5); prints the error, exit 1 if over.

Output (--out): `out_lora` [B, H*W, 16] float32, the official forward with the
adapter applied; `out_base` the same without it (the fixture's `out`). Metadata:
flux2_commit, torch, einops, lora_sha256 (of the --lora file's bytes),
transformer_sha256, io_sha256, modules (count), lora_effect (relative L2 of
out_lora − out_base: how much the adapter changes the output), rel_l2_vs_fixture_out
(the base forward against the fixture's `out`, a check of this script).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rel_l2(got, want):
    return (torch.linalg.vector_norm((got - want).double()) / torch.linalg.vector_norm(want.double())).item()


def official_commit(src, override):
    if override:
        return override
    try:
        out = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    p = os.path.join(src, "COMMIT")
    if os.path.exists(p):
        with open(p) as f:
            return f.readline().strip()
    sys.exit(f"cannot tell the commit of {src}: not a git checkout, no COMMIT file; pass --flux2-commit")


def build_official(src, fixture):
    sys.path.insert(0, os.path.join(src, "src"))
    from flux2.model import Flux2, Flux2Params  # the official code

    with open(os.path.join(fixture, "config.json")) as f:
        cfg = json.load(f)["transformer"]
    params = Flux2Params(**cfg)
    model = Flux2(params).float().eval()
    sd = load_file(os.path.join(fixture, "transformer.safetensors"))
    # strict: every official parameter comes from the fixture and nothing is left over.
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model


SUFFIXES = (".lora_A.weight", ".lora_B.weight", ".alpha")


def read_adapter(path):
    """Returns {module: (A, B, alpha or None)} and the list of format errors."""
    errs, mods = [], {}
    with safe_open(path, "pt") as f:
        for key in f.keys():
            name = key[len("diffusion_model."):] if key.startswith("diffusion_model.") else key
            for suf in SUFFIXES:
                if name.endswith(suf):
                    parts = mods.setdefault(name[: -len(suf)], {})
                    if suf in parts:
                        errs.append(f"{key}: a second {suf[1:]} for module {name[: -len(suf)]}")
                    parts[suf] = f.get_tensor(key).float()
                    break
            else:
                errs.append(f"{key}: not a lora_A.weight / lora_B.weight / alpha key")
    out = {}
    for m, t in sorted(mods.items()):
        if ".lora_A.weight" not in t or ".lora_B.weight" not in t:
            errs.append(f"{m}: needs both lora_A.weight and lora_B.weight, has {sorted(t)}")
            continue
        a, b, alpha = t[".lora_A.weight"], t[".lora_B.weight"], t.get(".alpha")
        if alpha is not None and alpha.numel() != 1:
            errs.append(f"{m}.alpha: shape {tuple(alpha.shape)}, want a scalar or [1]")
            continue
        out[m] = (a, b, None if alpha is None else alpha.reshape(()).item())
    return out, errs


def apply_adapter(model, adapter, errs):
    params = dict(model.named_parameters())
    for m, (a, b, alpha) in adapter.items():
        w = params.get(m + ".weight")
        if w is None or w.ndim != 2:
            errs.append(f"{m}: the official model has no module with a 2-D weight of that name")
            continue
        out_f, in_f = w.shape
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != in_f or b.shape[0] != out_f or a.shape[0] != b.shape[1]:
            errs.append(f"{m}: lora_A {tuple(a.shape)}, lora_B {tuple(b.shape)} do not fit weight "
                        f"{tuple(w.shape)} (want A [r, {in_f}], B [{out_f}, r])")
            continue
    if errs:
        sys.exit("adapter does not fit the official model:\n  " + "\n  ".join(errs))
    with torch.no_grad():
        for m, (a, b, alpha) in adapter.items():
            rank = a.shape[0]
            scale = (rank if alpha is None else alpha) / rank
            params[m + ".weight"].add_(scale * (b @ a))


def forward(model, io):
    with torch.no_grad():
        return model(io["img"], io["img_ids"], io["timesteps"], io["ctx"], io["ctx_ids"], io["guidance"])


def make_standin(model, path, seed=17):
    """A random adapter unlike the fixture's LoRA: ranks 3 and 2 (not 4),
    alphas 5 and 7 (not the rank), some block modules and some global ones,
    B non-zero so it changes the output. Written in Flora's ComfyUI form
    (alpha shape [1])."""
    g = torch.Generator().manual_seed(seed)
    plan = {  # module: (rank, alpha)
        "double_blocks.0.img_attn.qkv": (3, 5.0),
        "double_blocks.1.txt_mlp.2": (3, 5.0),
        "double_blocks.1.img_attn.proj": (2, 7.0),
        "single_blocks.0.linear2": (3, 5.0),
        "single_blocks.1.linear1": (2, 7.0),
        "double_stream_modulation_txt.lin": (3, 5.0),
        "final_layer.adaLN_modulation.1": (2, 7.0),
    }
    params = dict(model.named_parameters())
    tensors = {}
    for m, (r, alpha) in plan.items():
        out_f, in_f = params[m + ".weight"].shape
        tensors[f"diffusion_model.{m}.lora_A.weight"] = torch.randn(r, in_f, generator=g) / in_f ** 0.5
        tensors[f"diffusion_model.{m}.lora_B.weight"] = 0.05 * torch.randn(out_f, r, generator=g)
        tensors[f"diffusion_model.{m}.alpha"] = torch.tensor([alpha])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, path, metadata={"format": "comfy-bfl", "note": "random stand-in adapter "
                                       "(tools/reference/official_lora_check.py --make-standin)"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flux2-src", required=True, help="checkout of github.com/black-forest-labs/flux2")
    ap.add_argument("--flux2-commit", help="commit of --flux2-src when it is not a git checkout")
    ap.add_argument("--fixture", help="official tiny fixture folder")
    ap.add_argument("--lora", required=True, help="ComfyUI-named adapter (.safetensors)")
    ap.add_argument("--out", required=True, help="output .safetensors")
    ap.add_argument("--expect", help="safetensors file with the expected out_lora")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--make-standin", action="store_true", help="write a random stand-in adapter to --lora first")
    args = ap.parse_args()

    fixture = args.fixture
    if fixture is None:
        fixture = os.path.join(REPO, "testdata", "flux2-official-tiny")
        if not os.path.exists(os.path.join(fixture, "transformer.safetensors")):
            fixture = os.path.join(REPO, "..", "shared", "fixtures", "flux2-official-tiny")
    commit = official_commit(args.flux2_src, args.flux2_commit)
    torch.manual_seed(0)
    model = build_official(args.flux2_src, fixture)
    io_path = os.path.join(fixture, "transformer_io.safetensors")
    io = {k: v.float() for k, v in load_file(io_path).items()}

    base = forward(model, io)
    base_err = rel_l2(base, io["out"])
    if base_err > 1e-5:
        sys.exit(f"official model's base forward differs from the fixture's out by {base_err:.3g}: wrong checkout or fixture?")

    if args.make_standin:
        make_standin(model, args.lora)
    adapter, errs = read_adapter(args.lora)
    if not adapter and not errs:
        errs.append("no LoRA tensors in the file")
    apply_adapter(model, adapter, errs)
    out = forward(model, io).contiguous()
    effect = rel_l2(out, base)

    import einops
    meta = {
        "flux2_commit": commit,
        "torch": torch.__version__,
        "einops": einops.__version__,
        "lora_sha256": sha256(args.lora),
        "transformer_sha256": sha256(os.path.join(fixture, "transformer.safetensors")),
        "io_sha256": sha256(io_path),
        "modules": str(len(adapter)),
        "lora_effect": f"{effect:.6g}",
        "rel_l2_vs_fixture_out": f"{base_err:.3g}",
        "generator": "tools/reference/official_lora_check.py",
    }
    save_file({"out_lora": out, "out_base": base.contiguous()}, args.out, metadata=meta)
    print(f"{len(adapter)} modules applied; base forward vs fixture out {base_err:.3g}; "
          f"adapter changes the output by {effect:.4g} (rel L2); wrote {args.out}")
    if args.expect:
        want = load_file(args.expect)["out_lora"].float()
        err = rel_l2(out, want)
        print(f"out_lora vs {args.expect}: rel L2 {err:.3g} (tol {args.tol:g})")
        if err > args.tol:
            sys.exit(1)


if __name__ == "__main__":
    main()
