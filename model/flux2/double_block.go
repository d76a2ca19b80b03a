package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// DoubleStreamBlock is one FLUX.2 double-stream block: image and text streams
// with separate weights that meet in one joint attention (text tokens first).
//
// Weights w are the block's ("double_blocks.i"). img [B, N, D], txt [B, L, D];
// modImg, modTxt [B, 6D] are the shared modulation vectors; cos, sin
// [B, L+N, hd/2] are the RoPE tables of the joint sequence. Returns the new
// img [B, N, D] and txt [B, L, D].
func (c Config) DoubleStreamBlock(w Weights, img, txt, modImg, modTxt, cos, sin *Node) (*Node, *Node) {
	b, n, l, d := img.Shape().Dim(0), img.Shape().Dim(1), txt.Shape().Dim(1), c.Hidden
	assertDims("double block img", img, b, n, d)
	assertDims("double block txt", txt, b, l, d)
	assertDims("double block modImg", modImg, b, 6*d)
	assertDims("double block modTxt", modTxt, b, 6*d)
	imgMods, txtMods := splitModulation(modImg, 2), splitModulation(modTxt, 2)

	imgQ, imgK, imgV := c.streamQKV(w.In("img_attn"), modulate(img, imgMods[0]))
	txtQ, txtK, txtV := c.streamQKV(w.In("txt_attn"), modulate(txt, txtMods[0]))
	q := Concatenate([]*Node{txtQ, imgQ}, 1)
	k := Concatenate([]*Node{txtK, imgK}, 1)
	v := Concatenate([]*Node{txtV, imgV}, 1)
	attn := Attention(q, k, v, cos, sin, w.AttentionOptions()) // [B, L+N, D]
	txtAttn := SliceAxis(attn, 1, AxisRange(0, l))
	imgAttn := SliceAxis(attn, 1, AxisRange(l, l+n))

	img = gated(img, w.Linear("img_attn.proj", imgAttn), imgMods[0])
	img = gated(img, c.mlp(w.In("img_mlp"), modulate(img, imgMods[1])), imgMods[1])
	txt = gated(txt, w.Linear("txt_attn.proj", txtAttn), txtMods[0])
	txt = gated(txt, c.mlp(w.In("txt_mlp"), modulate(txt, txtMods[1])), txtMods[1])
	assertDims("double block img out", img, b, n, d)
	assertDims("double block txt out", txt, b, l, d)
	return img, txt
}

// streamQKV projects one stream to q, k, v [B, T, H, hd] with the fused qkv
// layer ([Q | K | V] rows, heads contiguous) and applies the QK RMSNorm.
// Queries and keys end in v's dtype, as in the reference.
func (c Config) streamQKV(w Weights, x *Node) (q, k, v *Node) {
	d := c.Hidden
	qkv := w.LinearSplit("qkv", x, d, d, d) // 3 × [B, T, D]
	q = splitHeads(qkv[0], c.NumHeads)
	k = splitHeads(qkv[1], c.NumHeads)
	v = splitHeads(qkv[2], c.NumHeads)
	hd := c.HeadDim()
	q = QKNorm(q, w.GetShaped("norm.query_norm.scale", hd))
	k = QKNorm(k, w.GetShaped("norm.key_norm.scale", hd))
	return cast(q, v), cast(k, v), v
}

// mlp is the SwiGLU MLP of a double-block stream: "0" projects to [gate | up]
// (2M), SiLU(gate)·up, then "2" projects back to D.
func (c Config) mlp(w Weights, x *Node) *Node {
	m := c.MLPHidden()
	gateUp := w.LinearSplit("0", x, m, m)
	return w.Linear("2", swiGLU(gateUp[0], gateUp[1]))
}

// swiGLU computes SiLU(gate)·up.
func swiGLU(gate, up *Node) *Node {
	return Mul(silu(gate), up)
}
