// Package textenc runs the FLUX.2 text encoders in GoMLX: the decoder-only
// language models Qwen3 (FLUX.2 [klein]: Qwen3-4B, Qwen3-8B) and the Mistral
// language model of Mistral-Small-3.1/3.2 24B (FLUX.2 [dev]), returning the
// selected intermediate hidden states stacked per token exactly as the
// diffusers FLUX.2 pipelines build prompt_embeds: [B, L, len(layers)·hidden].
//
// The package takes token ids and attention masks; the tokenizers live in
// model/textenc/tokenizer. SpecForVariant binds every FLUX.2 variant to its
// encoder, layer set (dev: Mistral 10/20/30; klein: Qwen3 9/18/27) and
// padding side. Only the embeddings and the layers up to the deepest selected
// hidden state are loaded and computed; the LM head and Mistral3's vision
// tower and projector are never read.
//
// # Reference behaviour (transformers 5.23, torch 2.15, diffusers 0.42.1)
//
// Verified against transformers itself (tools/reference/textenc.py and the
// parity tests, which agree to ~1e-6 in float32):
//
//   - Both pipelines call text_encoder(input_ids, attention_mask,
//     output_hidden_states=True, use_cache=False) without position ids, so
//     transformers uses positions 0..L−1 over the padded sequence: with
//     Mistral's left padding the n prompt tokens sit at positions L−n..L−1,
//     with Qwen3's right padding at 0..n−1.
//   - The default attention implementation is SDPA. Its mask is the boolean
//     causal mask AND the padding mask on keys (masking_utils.sdpa_mask); pad
//     queries are not masked themselves.
//   - Right padding (Qwen3, klein): a pad query attends to all real tokens
//     (not to pads, not to itself); its hidden states are non-zero and are fed
//     to the DiT. SDPA and eager attention agree.
//   - Left padding (Mistral, dev): a pad query sees only earlier pads, so its
//     row is fully masked and PyTorch's SDPA returns a zero attention output
//     (torch ≥ 2.5, math and flash kernels checked). Its hidden state therefore
//     evolves as h ← h + MLP(RMSNorm(h)) from the pad token's embedding: zero
//     throughout only if that embedding row is zero. Eager attention would
//     differ (its finfo.min additive mask averages all values); the pipelines
//     do not use it.
//   - hidden_states[0] is the embedding output and hidden_states[k] the
//     residual stream after layer k, except the last one
//     (k = num_hidden_layers), which transformers replaces with the
//     final-normed output; Encode reproduces that.
//   - RMSNorm normalises in float32, casts to the compute dtype, then
//     multiplies by the weight; RoPE tables are computed in float32 and cast
//     to the compute dtype before the rotation. Attention runs in float32 here.
//   - transformers 5.23 saves Mistral3ForConditionalGeneration in the older
//     naming (language_model.model.*, vision_tower.*), its in-memory modules
//     are named model.language_model.*; published checkpoints may use either,
//     and both load.
package textenc

import (
	_ "github.com/flora-ml/flora/internal/gomlxfix" // GoMLX v0.26 gradient fixes this package's graphs need, whatever backend the caller made.
)
