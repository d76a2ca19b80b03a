package textenc

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// layerWeights are one decoder layer's parameters, by name relative to the
// layer ("self_attn.q_proj.weight", ...).
type layerWeights map[string]*Node

// linear computes x·Wᵀ for a PyTorch-layout weight [out, in].
func linear(x, w *Node) *Node {
	if w.DType() != x.DType() {
		w = ConvertDType(w, x.DType())
	}
	return DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
}

// rmsNorm is the Llama-family RMSNorm: x normalised in float32 over the last
// axis, cast back to x's dtype, then scaled by weight.
func rmsNorm(x, weight *Node, eps float64) *Node {
	dtype := x.DType()
	xf := ConvertDType(x, dtypes.Float32)
	ms := ReduceAndKeep(Square(xf), ReduceMean, -1)
	y := ConvertDType(Div(xf, Sqrt(AddScalar(ms, eps))), dtype)
	return Mul(ExpandLeftToRank(ConvertDType(weight, dtype), y.Rank()), y)
}

// rotateHalf maps (x1, x2) halves of the last axis to (−x2, x1).
func rotateHalf(x *Node) *Node {
	half := x.Shape().Dim(-1) / 2
	x1 := SliceAxis(x, -1, AxisRange(0, half))
	x2 := SliceAxis(x, -1, AxisRange(half, 2*half))
	return Concatenate([]*Node{Neg(x2), x1}, -1)
}

// decoderLayer is one pre-norm decoder layer.
// x [B, L, D]; cos, sin [B, L, hd] (float32); allowed [B, 1, L, L] (1 where
// query q may attend to key k: causal and not padding); anyAllowed [B, 1, L, 1]
// (0 for queries with no allowed key, whose attention output is zero as in
// PyTorch's SDPA). Returns the new x [B, L, D].
func (c Config) decoderLayer(w layerWeights, x, cos, sin, allowed, anyAllowed *Node) *Node {
	b, l := x.Shape().Dim(0), x.Shape().Dim(1)
	dtype := x.DType()
	h := rmsNorm(x, w["input_layernorm.weight"], c.RMSEps)
	q := Reshape(linear(h, w["self_attn.q_proj.weight"]), b, l, c.Heads, c.HeadDim)
	k := Reshape(linear(h, w["self_attn.k_proj.weight"]), b, l, c.KVHeads, c.HeadDim)
	v := Reshape(linear(h, w["self_attn.v_proj.weight"]), b, l, c.KVHeads, c.HeadDim)
	if c.QKNorm() {
		q = rmsNorm(q, w["self_attn.q_norm.weight"], c.RMSEps)
		k = rmsNorm(k, w["self_attn.k_norm.weight"], c.RMSEps)
	}
	// RoPE (rotate-half convention) in float32, back to the compute dtype.
	cs := InsertAxes(cos, 2) // [B, L, 1, hd]
	sn := InsertAxes(sin, 2)
	rope := func(t *Node) *Node {
		tf := ConvertDType(t, dtypes.Float32)
		return ConvertDType(Add(Mul(tf, cs), Mul(rotateHalf(tf), sn)), dtype)
	}
	q, k = rope(q), rope(k)
	if rep := c.Heads / c.KVHeads; rep > 1 {
		expand := func(t *Node) *Node {
			t = InsertAxes(t, 3) // [B, L, KV, 1, hd]
			t = BroadcastToDims(t, b, l, c.KVHeads, rep, c.HeadDim)
			return Reshape(t, b, l, c.Heads, c.HeadDim)
		}
		k, v = expand(k), expand(v)
	}
	logits := ConvertDType(Einsum("bqhd,bkhd->bhqk", q, k), dtypes.Float32)
	logits = MulScalar(logits, 1/math.Sqrt(float64(c.HeadDim)))
	mask := BroadcastToDims(allowed, b, c.Heads, l, l)
	logits = Where(GreaterThan(mask, ZerosLike(mask)), logits, BroadcastToShape(Scalar(x.Graph(), dtypes.Float32, -1e30), logits.Shape()))
	probs := Mul(Softmax(logits, -1), anyAllowed)
	attn := Einsum("bhqk,bkhd->bqhd", ConvertDType(probs, dtype), v)
	x = Add(x, linear(Reshape(attn, b, l, c.Heads*c.HeadDim), w["self_attn.o_proj.weight"]))
	h = rmsNorm(x, w["post_attention_layernorm.weight"], c.RMSEps)
	gate := linear(h, w["mlp.gate_proj.weight"])
	up := linear(h, w["mlp.up_proj.weight"])
	return Add(x, linear(Mul(Mul(gate, Sigmoid(gate)), up), w["mlp.down_proj.weight"]))
}

// layerParamNames lists a layer's parameters for this family.
func (c Config) layerParamNames() []string {
	names := []string{
		"input_layernorm.weight", "post_attention_layernorm.weight",
		"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
		"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
	}
	if c.QKNorm() {
		names = append(names, "self_attn.q_norm.weight", "self_attn.k_norm.weight")
	}
	return names
}

// layerParamShapes gives each layer parameter's shape.
func (c Config) layerParamShapes() map[string][]int {
	d, hd := c.Hidden, c.HeadDim
	s := map[string][]int{
		"input_layernorm.weight":          {d},
		"post_attention_layernorm.weight": {d},
		"self_attn.q_proj.weight":         {c.Heads * hd, d},
		"self_attn.k_proj.weight":         {c.KVHeads * hd, d},
		"self_attn.v_proj.weight":         {c.KVHeads * hd, d},
		"self_attn.o_proj.weight":         {d, c.Heads * hd},
		"mlp.gate_proj.weight":            {c.Intermediate, d},
		"mlp.up_proj.weight":              {c.Intermediate, d},
		"mlp.down_proj.weight":            {d, c.Intermediate},
	}
	if c.QKNorm() {
		s["self_attn.q_norm.weight"] = []int{hd}
		s["self_attn.k_norm.weight"] = []int{hd}
	}
	return s
}
