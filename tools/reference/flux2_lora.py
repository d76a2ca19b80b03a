#!/usr/bin/env python3
"""Diffusers/PEFT LoRA parity fixtures and checks for Flora's lora package.

Two modes:

generate [OUT_DIR]  (default testdata/diffusers/flux2-tiny-dev-lora)
    Loads the tiny diffusers FLUX.2 transformer written by flux2_transformer.py
    (testdata/diffusers/flux2-tiny-dev), attaches random-weight PEFT LoRAs
    (B non-zero, alpha != rank) and records the transformer output with each
    LoRA active on that folder's io inputs:
      lora.safetensors         independent A for to_q/to_k/to_v, a block where
                               only to_q (img) and add_k_proj (txt) are adapted,
                               per-module rank and alpha patterns, single-block,
                               feed-forward and global layers including
                               norm_out.linear (the final adaLN, whose rows
                               diffusers stores as (scale, shift)); saved with
                               Flux2Pipeline.save_lora_weights ("transformer."
                               prefix, PEFT config in lora_adapter_metadata).
      lora_shared.safetensors  q/k/v of each stream share one A, rsLoRA
                               scaling (alpha/sqrt(r)); saved with the model's
                               save_lora_adapter (bare module names, unprefixed
                               PEFT config).
      io.safetensors           out_lora, out_lora_shared.

check DIR
    Verifies files Flora wrote (see lora/export_check_test.go): for every
    DIR/<case>.safetensors listed in DIR/flora_out.safetensors, loads the LoRA
    through every public diffusers path (LOADERS: Flux2Pipeline.lora_state_dict
    + load_lora_into_transformer, what pipe.load_lora_weights runs; the
    model's load_lora_adapter with and without use_safetensors; fuse_lora)
    onto the tiny transformer, runs the io inputs and compares with Flora's
    output for the same adapter. Writes DIR/diffusers_check.json.

check-merged FOLDER LORA SCALE OUT_JSON
    Verifies a model folder written by `flora lora merge --base
    testdata/diffusers/flux2-tiny-dev --lora LORA:SCALE --out FOLDER`: loads it
    with Flux2Transformer2DModel.from_pretrained and compares its output with
    the base model running the LoRA (PEFT, adapter weight SCALE).
"""
import hashlib
import json
import os
import sys

import torch
from diffusers import Flux2Pipeline, Flux2Transformer2DModel
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import load_file, save_file

BASE = os.path.join("testdata", "diffusers", "flux2-tiny-dev")


def load_model():
    return Flux2Transformer2DModel.from_pretrained(os.path.join(BASE, "transformer")).eval()


def forward(model, io):
    with torch.no_grad():
        return model(hidden_states=io["img"], encoder_hidden_states=io["ctx"], timestep=io["timesteps"],
                     img_ids=io["img_ids"][0], txt_ids=io["ctx_ids"][0], guidance=io["guidance"],
                     return_dict=False)[0].contiguous()


def exact(names):
    """A PEFT target_modules regex matching exactly these module paths."""
    return "^(" + "|".join(n.replace(".", r"\.") for n in names) + ")$"


def randomize(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.2)


INDEPENDENT_MODULES = [
    *[f"transformer_blocks.0.attn.{m}" for m in
      ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0", "to_add_out")],
    *[f"transformer_blocks.0.{m}" for m in ("ff.linear_in", "ff.linear_out", "ff_context.linear_in", "ff_context.linear_out")],
    # block 1: only some of the split q/k/v parts
    "transformer_blocks.1.attn.to_q", "transformer_blocks.1.attn.add_k_proj",
    "transformer_blocks.1.ff.linear_out", "transformer_blocks.1.ff_context.linear_out",
    "single_transformer_blocks.0.attn.to_qkv_mlp_proj", "single_transformer_blocks.0.attn.to_out",
    "single_transformer_blocks.1.attn.to_out",
    "norm_out.linear", "proj_out", "x_embedder", "context_embedder",
    "double_stream_modulation_img.linear", "single_stream_modulation.linear",
    "time_guidance_embed.timestep_embedder.linear_1", "time_guidance_embed.guidance_embedder.linear_2",
]

SHARED_MODULES = [
    *[f"transformer_blocks.{i}.attn.{m}" for i in (0, 1) for m in
      ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0")],
    "single_transformer_blocks.0.attn.to_qkv_mlp_proj", "single_transformer_blocks.1.attn.to_qkv_mlp_proj",
    "norm_out.linear",
]


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    io = load_file(os.path.join(BASE, "io.safetensors"))
    outs = {}

    # Independent A per split part; saved the pipeline way.
    model = load_model()
    cfg = LoraConfig(
        r=4, lora_alpha=8, init_lora_weights=False, target_modules=exact(INDEPENDENT_MODULES),
        rank_pattern={"single_transformer_blocks.0.attn.to_qkv_mlp_proj": 2, "proj_out": 3},
        alpha_pattern={"transformer_blocks.1.ff.linear_out": 3.0, "norm_out.linear": 6.0},
    )
    model.add_adapter(cfg)
    randomize(model, 5)
    outs["out_lora"] = forward(model, io)
    Flux2Pipeline.save_lora_weights(out_dir, transformer_lora_layers=get_peft_model_state_dict(model),
                                    transformer_lora_adapter_metadata=cfg.to_dict(), weight_name="lora.safetensors")

    # Shared A across q/k/v (what Flora writes for a fused qkv), rsLoRA;
    # saved by the model itself (bare names).
    model = load_model()
    cfg = LoraConfig(r=4, lora_alpha=2, use_rslora=True, init_lora_weights=False, target_modules=exact(SHARED_MODULES))
    model.add_adapter(cfg)
    randomize(model, 6)
    modules = dict(model.named_modules())
    with torch.no_grad():
        for i in (0, 1):
            for q, k, v in (("to_q", "to_k", "to_v"), ("add_q_proj", "add_k_proj", "add_v_proj")):
                a = modules[f"transformer_blocks.{i}.attn.{q}"].lora_A["default"].weight
                for other in (k, v):
                    modules[f"transformer_blocks.{i}.attn.{other}"].lora_A["default"].weight.copy_(a)
    outs["out_lora_shared"] = forward(model, io)
    model.save_lora_adapter(out_dir, weight_name="lora_shared.safetensors")

    save_file(outs, os.path.join(out_dir, "io.safetensors"),
              metadata={"generator": "tools/reference/flux2_lora.py", "torch": torch.__version__,
                        "diffusers": __import__("diffusers").__version__, "peft": __import__("peft").__version__})
    for f in ("lora.safetensors", "lora_shared.safetensors"):
        print(f, len(load_file(os.path.join(out_dir, f))), "tensors")


def rel_l2(got, want):
    return float(torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want))


# The public ways diffusers applies a LoRA file to a FLUX.2 transformer.
# "pipeline" is what pipe.load_lora_weights runs; "adapter" is the model's
# load_lora_adapter as most scripts call it, which reads the PEFT config in
# the file's metadata only with use_safetensors=True ("adapter_safetensors");
# "fused" merges the pipeline-loaded LoRA into the weights (fuse_lora).
def load_pipeline(model, path):
    sd, md = Flux2Pipeline.lora_state_dict(path, return_lora_metadata=True)
    Flux2Pipeline.load_lora_into_transformer(sd, transformer=model, metadata=md)


def load_fused(model, path):
    load_pipeline(model, path)
    model.fuse_lora(lora_scale=1.0)
    model.unload_lora()


LOADERS = {
    "pipeline": load_pipeline,
    "adapter": lambda model, path: model.load_lora_adapter(path, prefix="transformer"),
    "adapter_safetensors": lambda model, path: model.load_lora_adapter(path, prefix="transformer", use_safetensors=True),
    "fused": load_fused,
}


def run_loader(loader, path, io, want):
    """Loads path onto a fresh tiny transformer with loader: the entry."""
    model = load_model()
    try:
        loader(model, path)
        entry = {"loaded": True,
                 "lora_modules": sum(1 for _, m in model.named_modules() if hasattr(m, "lora_A") and len(m.lora_A) > 0)}
        entry["rel_l2"] = rel_l2(forward(model, io), want)
    except Exception as e:  # recorded: a format this path cannot read
        entry = {"loaded": False, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    return entry


def check(folder):
    io = load_file(os.path.join(BASE, "io.safetensors"))
    flora = load_file(os.path.join(folder, "flora_out.safetensors"))
    base = forward(load_model(), io)
    result = {"diffusers": __import__("diffusers").__version__, "peft": __import__("peft").__version__,
              "torch": torch.__version__, "loader": "Flux2Pipeline.lora_state_dict + load_lora_into_transformer",
              "paths": sorted(LOADERS), "cases": {}}
    for case in sorted(flora):
        path = os.path.join(folder, case + ".safetensors")
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        entry = {"file": case + ".safetensors", "sha256": digest,
                 "flora_vs_base_rel_l2": rel_l2(flora[case], base)}  # how much the adapter changes the output
        entry["paths"] = {name: run_loader(loader, path, io, flora[case]) for name, loader in sorted(LOADERS.items())}
        entry.update(entry["paths"]["pipeline"])  # the top-level verdict: pipe.load_lora_weights
        result["cases"][case] = entry
        print(case, json.dumps(entry))
    with open(os.path.join(folder, "diffusers_check.json"), "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")


def check_merged(folder, lora, scale, out_json):
    io = load_file(os.path.join(BASE, "io.safetensors"))
    merged = Flux2Transformer2DModel.from_pretrained(os.path.join(folder, "transformer")).eval()
    model = load_model()
    sd, md = Flux2Pipeline.lora_state_dict(lora, return_lora_metadata=True)
    if not any(k.startswith("transformer.") for k in sd):  # bare names (save_lora_adapter)
        model.load_lora_adapter(lora, prefix=None, adapter_name="a")
    else:
        Flux2Pipeline.load_lora_into_transformer(sd, transformer=model, metadata=md, adapter_name="a")
    model.set_adapters(["a"], weights=[scale])
    ref = forward(model, io)
    result = {"diffusers": __import__("diffusers").__version__, "peft": __import__("peft").__version__,
              "lora": os.path.basename(lora), "scale": scale,
              "merged_vs_peft_rel_l2": rel_l2(forward(merged, io), ref),
              "lora_vs_base_rel_l2": rel_l2(ref, forward(load_model(), io))}
    print(json.dumps(result))
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "generate"
    if mode == "generate":
        generate(sys.argv[2] if len(sys.argv) > 2 else os.path.join("testdata", "diffusers", "flux2-tiny-dev-lora"))
    elif mode == "check" and len(sys.argv) == 3:
        check(sys.argv[2])
    elif mode == "check-merged" and len(sys.argv) == 6:
        check_merged(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
