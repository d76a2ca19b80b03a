package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive

	_ "github.com/flora-ml/flora/internal/gomlxfix" // GoMLX v0.26 gradient fixes this package's graphs need, whatever backend the caller made.
)

// Embedded is the output of the embedding stage: the projected streams, the
// conditioning vector and the three shared modulation vectors.
type Embedded struct {
	// Img [B, N, D] and Txt [B, L, D] are the projected token streams.
	Img, Txt *Node
	// Vec [B, D] is the time (+ guidance) conditioning vector.
	Vec *Node
	// ModImg, ModTxt [B, 6D] and ModSingle [B, 3D] are the shared modulations.
	ModImg, ModTxt, ModSingle *Node
}

// Embed runs everything before the first block.
// x [B, N, InChannels] latent tokens, ctx [B, L, ContextDim] text embeddings,
// t [B] flow times in [0, 1], guidance [B] (nil for variants without a
// guidance embedder). The compute dtype is x's dtype.
func (c Config) Embed(w Weights, x, ctx, t, guidance *Node) Embedded {
	b, n := x.Shape().Dim(0), x.Shape().Dim(1)
	assertDims("x", x, b, n, c.InChannels)
	assertDims("ctx", ctx, b, -1, c.ContextDim)
	assertDims("timesteps", t, b)
	dtype := x.DType()
	ctx = cast(ctx, x)
	vec := MLPEmbedder(w.In("time_in"), ConvertDType(TimestepEmbedding(t), dtype))
	if c.GuidanceEmbed {
		if guidance == nil {
			panicf("flux2: this variant has a guidance embedder and needs a guidance value")
		}
		assertDims("guidance", guidance, b)
		vec = Add(vec, MLPEmbedder(w.In("guidance_in"), ConvertDType(TimestepEmbedding(guidance), dtype)))
	}
	e := Embedded{
		Img:       w.Linear("img_in", x),
		Txt:       w.Linear("txt_in", ctx),
		Vec:       vec,
		ModImg:    ModulationVector(w, "double_stream_modulation_img", vec),
		ModTxt:    ModulationVector(w, "double_stream_modulation_txt", vec),
		ModSingle: ModulationVector(w, "single_stream_modulation", vec),
	}
	return e
}

// JoinStreams concatenates txt [B, L, D] and img [B, N, D] into the single
// stream [B, L+N, D], text first.
func JoinStreams(txt, img *Node) *Node {
	return Concatenate([]*Node{txt, img}, 1)
}

// ImageTokens drops the first numTxt tokens of the joint stream: [B, L+N, D] →
// [B, N, D].
func ImageTokens(h *Node, numTxt int) *Node {
	return SliceAxis(h, 1, AxisRange(numTxt, h.Shape().Dim(1)))
}

// Forward is the whole transformer in one graph: the predicted velocity
// [B, N, InChannels] for latent tokens x [B, N, InChannels], text embeddings
// ctx [B, L, ContextDim], times t [B], guidance [B] (or nil) and the RoPE
// tables cos, sin [B, L+N, hd/2] of the joint sequence (see RoPETables).
// It runs the stages (stages.go) in order; the block-wise executor runs the
// same ones as separate programs.
func (c Config) Forward(w Weights, x, ctx, t, guidance, cos, sin *Node) *Node {
	a := &activations[*Node]{x: x, ctx: ctx, t: t, guidance: guidance, cos: cos, sin: sin}
	for _, s := range c.stages() {
		s.forward(c, s.scope(w), a)
	}
	return a.out
}
