#!/usr/bin/env python3
"""Parity fixtures for Flora's FLUX.2 text encoders (package model/textenc).

Builds tiny random transformers models of both text-encoder families:

* Qwen3ForCausalLM (FLUX.2 [klein]), right padding, and
* Mistral3ForConditionalGeneration (FLUX.2 [dev]; a tiny Pixtral vision tower and
  projector are part of the checkpoint and must be skipped by the loader), left
  padding,

randomises every weight (RMSNorm scales and the pad token's embedding row too, so
a missing scale or a zeroed pad row is caught), saves each model with
transformers' own save_pretrained (the main Mistral model sharded, to exercise
model.safetensors.index.json) and records the prompt embeddings produced by the
diffusers FLUX.2 pipelines' own functions `Flux2Pipeline._get_mistral_3_small_prompt_embeds`
and `Flux2KleinPipeline._get_qwen3_prompt_embeds`, driven by stub tokenizers that
return fixed token ids padded the way the real tokenizers pad (max_length
padding; Qwen2 tokenizer: right; Mistral processor: left).

Each case records in cases.json the token ids, attention mask, hidden-state
layers and the name of the output tensor in outputs.safetensors
([B, L, len(layers)·hidden], float32; the *_bf16 outputs come from the same
model cast to bfloat16, as the pipelines run it).

Usage: python3 tools/reference/textenc.py [OUT_DIR]
(default OUT_DIR: testdata/textenc, relative to the repository root).
"""
import json
import os
import sys

import torch
from diffusers.pipelines.flux2.pipeline_flux2 import Flux2Pipeline
from diffusers.pipelines.flux2.pipeline_flux2_klein import Flux2KleinPipeline
from safetensors.torch import save_file
from transformers import (Mistral3Config, Mistral3ForConditionalGeneration,
                          Qwen3Config, Qwen3ForCausalLM)


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name and p.dim() == 1:  # RMSNorm scales: around 1, not 1
                p.copy_(1 + 0.2 * noise)
            elif "embed_tokens" in name:
                p.copy_(noise)  # includes the pad row (nn.Embedding zeroes it at init)
            else:
                p.copy_(noise / (p.shape[-1] ** 0.5))
    return model.eval()


def qwen3(layers, hidden, heads, kv_heads, head_dim, inter, vocab, pad, seed):
    cfg = Qwen3Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
                      num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv_heads, head_dim=head_dim, rms_norm_eps=1e-6,
                      rope_theta=1e6, max_position_embeddings=1024, tie_word_embeddings=True,
                      pad_token_id=pad, bos_token_id=None, eos_token_id=pad)
    torch.manual_seed(seed)
    return randomise(Qwen3ForCausalLM(cfg), seed)


def mistral3(layers, hidden, heads, kv_heads, head_dim, inter, vocab, pad, seed):
    cfg = Mistral3Config(
        text_config=dict(model_type="mistral", vocab_size=vocab, hidden_size=hidden,
                         intermediate_size=inter, max_position_embeddings=1024,
                         num_attention_heads=heads, num_hidden_layers=layers,
                         num_key_value_heads=kv_heads, head_dim=head_dim, rms_norm_eps=1e-5,
                         rope_theta=1e9, sliding_window=None, bos_token_id=1, eos_token_id=2,
                         pad_token_id=pad, tie_word_embeddings=False),
        vision_config=dict(model_type="pixtral", hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=4, intermediate_size=24, image_size=30,
                           patch_size=6, num_channels=3, head_dim=4),
        image_token_index=10, tie_word_embeddings=False, spatial_merge_size=2)
    torch.manual_seed(seed)
    return randomise(Mistral3ForConditionalGeneration(cfg), seed)


def prompt_ids(g, n, vocab, pad):
    """n random token ids in [20, vocab) without the pad id (ids < 20 play control tokens)."""
    ids = torch.randint(20, vocab, (n,), generator=g)
    ids[ids == pad] = 21
    return ids.tolist()


class QwenStubTokenizer:
    """Stands in for Qwen2TokenizerFast in Flux2KleinPipeline._get_qwen3_prompt_embeds:
    the 'rendered template' is the prompt itself, and tokenising returns fixed ids,
    right-padded to max_length like the Qwen2 tokenizer."""

    def __init__(self, table, pad):
        self.table, self.pad = table, pad

    def apply_chat_template(self, messages, tokenize, add_generation_prompt, enable_thinking):
        assert tokenize is False and add_generation_prompt is True and enable_thinking is False
        assert len(messages) == 1 and messages[0]["role"] == "user"
        return messages[0]["content"]

    def __call__(self, text, return_tensors, padding, truncation, max_length):
        assert return_tensors == "pt" and padding == "max_length" and truncation is True
        ids = self.table[text][:max_length]
        n = len(ids)
        ids = ids + [self.pad] * (max_length - n)
        mask = [1] * n + [0] * (max_length - n)
        return {"input_ids": torch.tensor([ids]), "attention_mask": torch.tensor([mask])}


class MistralStubProcessor:
    """Stands in for the Mistral-Small-3.1 AutoProcessor in
    Flux2Pipeline._get_mistral_3_small_prompt_embeds: the chat template is
    replaced by fixed ids, left-padded to max_length."""

    def __init__(self, table, pad):
        self.table, self.pad = table, pad

    def apply_chat_template(self, messages_batch, add_generation_prompt, tokenize, return_dict,
                            return_tensors, padding, truncation, max_length):
        assert add_generation_prompt is False and tokenize is True and return_dict is True
        assert return_tensors == "pt" and padding == "max_length" and truncation is True
        all_ids, all_mask = [], []
        for conv in messages_batch:
            assert [m["role"] for m in conv] == ["system", "user"]
            ids = self.table[conv[1]["content"][0]["text"]][-max_length:]
            n = len(ids)
            all_ids.append([self.pad] * (max_length - n) + ids)
            all_mask.append([0] * (max_length - n) + [1] * n)
        return {"input_ids": torch.tensor(all_ids), "attention_mask": torch.tensor(all_mask)}


def run_case(family, model, vocab, pad, lengths, max_len, layers, seed, dtype=None):
    g = torch.Generator().manual_seed(seed)
    prompts = [f"prompt {i}" for i in range(len(lengths))]
    table = {p: prompt_ids(g, n, vocab, pad) for p, n in zip(prompts, lengths)}
    with torch.no_grad():
        if family == "qwen3":
            tok = QwenStubTokenizer(table, pad)
            out = Flux2KleinPipeline._get_qwen3_prompt_embeds(
                model, tok, prompts, max_sequence_length=max_len, hidden_states_layers=layers)
            enc = [tok(p, return_tensors="pt", padding="max_length", truncation=True, max_length=max_len)
                   for p in prompts]
            ids = torch.cat([e["input_ids"] for e in enc])
            mask = torch.cat([e["attention_mask"] for e in enc])
        else:
            proc = MistralStubProcessor(table, pad)
            out = Flux2Pipeline._get_mistral_3_small_prompt_embeds(
                model, proc, prompts, max_sequence_length=max_len, hidden_states_layers=layers)
            conv = [[{"role": "system", "content": []}, {"role": "user", "content": [{"type": "text", "text": p}]}]
                    for p in prompts]
            enc = proc.apply_chat_template(conv, add_generation_prompt=False, tokenize=True, return_dict=True,
                                           return_tensors="pt", padding="max_length", truncation=True,
                                           max_length=max_len)
            ids, mask = enc["input_ids"], enc["attention_mask"]
    assert out.dtype == (dtype or torch.float32)
    return ids, mask, out.float().contiguous()


# Fixture models: (family, folder, builder kwargs, shard size, cases).
# A case: (name, prompt lengths, max length, hidden-state layers, bf16 too).
MODELS = [
    ("qwen3", "qwen3-tiny", dict(layers=5, hidden=24, heads=4, kv_heads=2, head_dim=16, inter=40, vocab=512, pad=500),
     None, [("qwen3_tiny", [13, 40], 128, (1, 3, 4), True),
            ("qwen3_tiny_edges", [13, 40], 128, (0, 2, 5), False)]),
    ("mistral3", "mistral3-tiny", dict(layers=5, hidden=32, heads=4, kv_heads=2, head_dim=16, inter=48, vocab=512, pad=11),
     "120KB", [("mistral3_tiny", [9, 50], 128, (1, 3, 4), True),
               ("mistral3_tiny_edges", [9, 50], 128, (0, 2, 5), False)]),
    ("qwen3", "qwen3-deep", dict(layers=28, hidden=8, heads=2, kv_heads=1, head_dim=4, inter=12, vocab=64, pad=60),
     None, [("qwen3_deep_klein", [30], 512, (9, 18, 27), False)]),
    ("mistral3", "mistral3-deep", dict(layers=31, hidden=8, heads=2, kv_heads=1, head_dim=4, inter=12, vocab=64, pad=11),
     None, [("mistral3_deep_dev", [30], 512, (10, 20, 30), False)]),
]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("testdata", "textenc")
    os.makedirs(out_dir, exist_ok=True)
    outputs, cases = {}, []
    for seed, (family, folder, kw, shard, model_cases) in enumerate(MODELS):
        build = qwen3 if family == "qwen3" else mistral3
        model = build(seed=seed, **kw)
        assert model.config._attn_implementation == "sdpa", model.config._attn_implementation
        path = os.path.join(out_dir, folder)
        os.makedirs(path, exist_ok=True)
        model.save_pretrained(path, **({"max_shard_size": shard} if shard else {}))
        for j, (name, lengths, max_len, layers, bf16) in enumerate(model_cases):
            ids, mask, out = run_case(family, model, kw["vocab"], kw["pad"], lengths, max_len, layers,
                                      seed=1000 + 10 * seed + j)
            outputs[name] = out
            case = dict(name=name, family=family, model=folder, layers=list(layers), input_ids=ids.tolist(),
                        attention_mask=mask.tolist(), output=name)
            if bf16:
                model_bf16 = build(seed=seed, **kw).to(torch.bfloat16)
                _, _, out16 = run_case(family, model_bf16, kw["vocab"], kw["pad"], lengths, max_len, layers,
                                       seed=1000 + 10 * seed + j, dtype=torch.bfloat16)
                outputs[name + "_bf16"] = out16
                case["output_bf16"] = name + "_bf16"
            cases.append(case)
            print(f"{name}: {folder} {sum(p.numel() for p in model.parameters())} params, out {tuple(out.shape)}")
    meta = {
        "generator": "tools/reference/textenc.py",
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "diffusers": __import__("diffusers").__version__,
    }
    save_file(outputs, os.path.join(out_dir, "outputs.safetensors"), metadata=meta)
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(dict(meta=meta, cases=cases), f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
