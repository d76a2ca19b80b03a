package textenc

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// Embed looks up the token embeddings: ids [B, L] (int32) → [B, L, Hidden]
// in the dtype of the embedding table (hidden state 0).
func (c Config) Embed(w Weights, ids *Node) *Node {
	table := w.GetShaped(embedName, c.VocabSize, c.Hidden)
	b, l := ids.Shape().Dim(0), ids.Shape().Dim(1)
	return Gather(table, Reshape(ids, b, l, 1))
}

// SelfAttention is one attention block: q/k/v projections, per-head QK
// RMSNorm (Qwen3), rotate-half RoPE, GQA attention under the pattern allowed,
// output projection. x [B, L, Hidden], allowed [B, L, L], cos/sin
// [L, HeadDim/2] → [B, L, Hidden].
func (c Config) SelfAttention(w Weights, x, allowed, cos, sin *Node) *Node {
	b, l := x.Shape().Dim(0), x.Shape().Dim(1)
	q := Reshape(w.Linear("q_proj", x), b, l, c.NumHeads, c.HeadDim)
	k := Reshape(w.Linear("k_proj", x), b, l, c.NumKVHeads, c.HeadDim)
	v := Reshape(w.Linear("v_proj", x), b, l, c.NumKVHeads, c.HeadDim)
	if c.QKNorm {
		q = RMSNorm(q, w.Get("q_norm.weight"), c.RMSNormEps)
		k = RMSNorm(k, w.Get("k_norm.weight"), c.RMSNormEps)
	}
	q = ApplyRoPE(q, cos, sin)
	k = ApplyRoPE(k, cos, sin)
	return w.Linear("o_proj", GQAAttention(q, k, v, allowed))
}

// MLP is the SwiGLU feed-forward: down(silu(gate(x)) · up(x)), x [B, L,
// Hidden] → [B, L, Hidden]. SiLU is evaluated in float32 and rounded once to
// x's dtype, as PyTorch does.
func (c Config) MLP(w Weights, x *Node) *Node {
	gate := ConvertDType(activations.Swish(upcast(w.Linear("gate_proj", x))), x.DType())
	return w.Linear("down_proj", Mul(gate, w.Linear("up_proj", x)))
}

// DecoderLayer is one pre-norm decoder layer with residuals:
// h + attn(norm(h)), then + mlp(norm(·)). h [B, L, Hidden] → [B, L, Hidden].
func (c Config) DecoderLayer(w Weights, h, allowed, cos, sin *Node) *Node {
	assertDims("decoder layer input", h, -1, -1, c.Hidden)
	x := RMSNorm(h, w.Get("input_layernorm.weight"), c.RMSNormEps)
	h = Add(h, c.SelfAttention(w.In("self_attn"), x, allowed, cos, sin))
	x = RMSNorm(h, w.Get("post_attention_layernorm.weight"), c.RMSNormEps)
	return Add(h, c.MLP(w.In("mlp"), x))
}
