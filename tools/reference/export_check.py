#!/usr/bin/env python3
"""Checks `flora model export embedded:tiny --layout diffusers` with diffusers.

export_check.py DIR   (DIR: testdata/export/embedded-tiny)

DIR/model is the exported folder and DIR/io.safetensors the inputs Flora ran
and its outputs, both written by
  FLORA_UPDATE_EXPORT_FIXTURE=1 go test ./model/bundle -run ExportRoundTrip
This loads every part with the diffusers / transformers classes
model_index.json names, through from_pretrained:
  transformer   Flux2Transformer2DModel on (x, prompt_embeds, t, guidance)
                with Flora's position ids (text (0, 0, 0, l), image
                (0, r, c, 0)); compared with "velocity";
  vae           AutoencoderKLFlux2: de-normalise the packed latents with its
                BatchNorm statistics, unpatchify, decode (as Flux2Pipeline
                does); compared with "pixels";
  text encoder  Qwen3ForCausalLM + the exported tokenizer (AutoTokenizer,
                with its chat template) through
                Flux2KleinPipeline._get_qwen3_prompt_embeds with the
                embedded model's hidden-state layers and prompt length:
                token ids compared with "input_ids", embeddings with
                "prompt_embeds".
and writes DIR/export_check.json: versions, relative L2 errors, and the
SHA-256 of every exported file (model/bundle export_check_test.go asserts it).
"""
import hashlib
import json
import os
import sys

import torch
import diffusers
import transformers
from diffusers import AutoencoderKLFlux2, Flux2KleinPipeline, Flux2Pipeline, Flux2Transformer2DModel
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoTokenizer, Qwen3ForCausalLM


def rel_l2(got, want):
    return float(torch.linalg.vector_norm(got.float() - want.float()) / torch.linalg.vector_norm(want.float()))


def sha256_tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = hashlib.sha256(fh.read()).hexdigest()
    return dict(sorted(out.items()))


def check(folder):
    model_dir = os.path.join(folder, "model")
    io_path = os.path.join(folder, "io.safetensors")
    io = load_file(io_path)
    with safe_open(io_path, "pt") as f:
        meta = f.metadata()
    layers = json.loads(meta["text_layers"])
    prompt = meta["prompt"]
    result = {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
              "files": sha256_tree(model_dir)}

    tr = Flux2Transformer2DModel.from_pretrained(os.path.join(model_dir, "transformer")).eval()
    x = io["x"]
    n = x.shape[1]
    h = w = int(round(n ** 0.5))
    img_ids = torch.tensor([[0, r, c, 0] for r in range(h) for c in range(w)], dtype=torch.float32)
    l = io["prompt_embeds"].shape[1]
    txt_ids = torch.tensor([[0, 0, 0, j] for j in range(l)], dtype=torch.float32)
    with torch.no_grad():
        v = tr(hidden_states=x, encoder_hidden_states=io["prompt_embeds"], timestep=io["t"], img_ids=img_ids,
               txt_ids=txt_ids, guidance=io["guidance"], return_dict=False)[0]
    result["transformer"] = {"class": type(tr).__name__, "rel_l2": rel_l2(v, io["velocity"])}

    vae = AutoencoderKLFlux2.from_pretrained(os.path.join(model_dir, "vae")).eval()
    mean = vae.bn.running_mean.view(1, -1, 1, 1)
    std = torch.sqrt(vae.bn.running_var.view(1, -1, 1, 1) + vae.config.batch_norm_eps)
    with torch.no_grad():
        z = Flux2Pipeline._unpatchify_latents(io["latents"] * std + mean)
        px = vae.decode(z).sample
    result["vae"] = {"class": type(vae).__name__, "rel_l2": rel_l2(px, io["pixels"])}

    te = Qwen3ForCausalLM.from_pretrained(os.path.join(model_dir, "text_encoder")).eval()
    tok = AutoTokenizer.from_pretrained(os.path.join(model_dir, "tokenizer"))
    msgs = [{"role": "user", "content": prompt}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    enc = tok(text, return_tensors="pt", padding="max_length", truncation=True, max_length=l)
    with torch.no_grad():
        emb = Flux2KleinPipeline._get_qwen3_prompt_embeds(te, tok, [prompt], max_sequence_length=l, hidden_states_layers=layers)
    result["text_encoder"] = {"class": type(te).__name__, "tokenizer": type(tok).__name__,
                              "input_ids_equal": bool(torch.equal(enc["input_ids"], io["input_ids"].long())),
                              "attention_mask_equal": bool(torch.equal(enc["attention_mask"], io["attention_mask"].long())),
                              "rel_l2": rel_l2(emb, io["prompt_embeds"])}
    print(json.dumps({k: v for k, v in result.items() if k != "files"}, indent=2))
    with open(os.path.join(folder, "export_check.json"), "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    check(sys.argv[1])


if __name__ == "__main__":
    main()
