package textenc

import (
	"errors"
	"fmt"

	"github.com/flora-ml/flora/internal/tensorload"
)

// Family is a text-encoder model family. It fixes the checkpoint naming and
// the padding convention of the FLUX.2 pipelines.
type Family string

const (
	// FamilyQwen3 is Qwen3ForCausalLM (FLUX.2 [klein]); right padding.
	FamilyQwen3 Family = "qwen3"
	// FamilyMistral is the Mistral language model inside
	// Mistral3ForConditionalGeneration (FLUX.2 [dev]); left padding.
	FamilyMistral Family = "mistral"
)

// Config is the architecture of a decoder-only transformer language model
// (pre-norm RMSNorm, GQA attention with rotate-half RoPE, SwiGLU MLP, no
// biases).
type Config struct {
	// Family selects the checkpoint naming and padding convention.
	Family Family
	// VocabSize is the number of token embeddings.
	VocabSize int
	// Hidden is the model width.
	Hidden int
	// NumLayers is the number of decoder layers.
	NumLayers int
	// NumHeads and NumKVHeads are the query and key/value head counts
	// (grouped-query attention: NumHeads is a multiple of NumKVHeads).
	NumHeads, NumKVHeads int
	// HeadDim is the per-head width (not necessarily Hidden/NumHeads).
	HeadDim int
	// Intermediate is the SwiGLU MLP width.
	Intermediate int
	// RMSNormEps is the epsilon of every RMSNorm (QK-norms included).
	RMSNormEps float64
	// RopeTheta is the RoPE base; rotate-half convention, pairs (i, i+HeadDim/2).
	// Only the "default" RoPE type is supported (no scaling: none of the
	// FLUX.2 text encoders uses any).
	RopeTheta float64
	// QKNorm applies Qwen3's per-head RMSNorm (over HeadDim, before RoPE) to
	// queries and keys.
	QKNorm bool
	// TieEmbeddings says the LM head shares the token embeddings (only
	// relevant for parameter counting: the LM head is never used).
	TieEmbeddings bool
	// SlidingWindow limits attention to the last SlidingWindow keys
	// (transformers' Mistral convention); 0 means none.
	SlidingWindow int
	// MaxPositions is the context length the model was trained for.
	MaxPositions int
}

// Qwen3_4BConfig is Qwen/Qwen3-4B (FLUX.2 [klein] 4B text encoder).
func Qwen3_4BConfig() Config {
	return Config{Family: FamilyQwen3, VocabSize: 151936, Hidden: 2560, NumLayers: 36, NumHeads: 32, NumKVHeads: 8,
		HeadDim: 128, Intermediate: 9728, RMSNormEps: 1e-6, RopeTheta: 1e6, QKNorm: true, TieEmbeddings: true,
		MaxPositions: 40960}
}

// Qwen3_8BConfig is Qwen/Qwen3-8B (FLUX.2 [klein] 9B text encoder).
func Qwen3_8BConfig() Config {
	return Config{Family: FamilyQwen3, VocabSize: 151936, Hidden: 4096, NumLayers: 36, NumHeads: 32, NumKVHeads: 8,
		HeadDim: 128, Intermediate: 12288, RMSNormEps: 1e-6, RopeTheta: 1e6, QKNorm: true, MaxPositions: 40960}
}

// MistralSmall3Config is the language model of Mistral-Small-3.1/3.2-24B
// (FLUX.2 [dev] text encoder); identical to transformers' Mistral3Config
// text_config defaults.
func MistralSmall3Config() Config {
	return Config{Family: FamilyMistral, VocabSize: 131072, Hidden: 5120, NumLayers: 40, NumHeads: 32, NumKVHeads: 8,
		HeadDim: 128, Intermediate: 32768, RMSNormEps: 1e-5, RopeTheta: 1e9, MaxPositions: 131072}
}

// TinyQwen3Config is a toy Qwen3 for tests and benchmarks (the model of the
// testdata/textenc/qwen3-tiny fixture).
func TinyQwen3Config() Config {
	return Config{Family: FamilyQwen3, VocabSize: 512, Hidden: 24, NumLayers: 5, NumHeads: 4, NumKVHeads: 2,
		HeadDim: 16, Intermediate: 40, RMSNormEps: 1e-6, RopeTheta: 1e6, QKNorm: true, TieEmbeddings: true,
		MaxPositions: 1024}
}

// TinyMistralConfig is a toy Mistral language model for tests (the model of
// the testdata/textenc/mistral3-tiny fixture).
func TinyMistralConfig() Config {
	return Config{Family: FamilyMistral, VocabSize: 512, Hidden: 32, NumLayers: 5, NumHeads: 4, NumKVHeads: 2,
		HeadDim: 16, Intermediate: 48, RMSNormEps: 1e-5, RopeTheta: 1e9, MaxPositions: 1024}
}

// maxDim bounds every size read from a config file, so a corrupt file cannot
// make us allocate absurd tables.
const maxDim = 1 << 20

// Validate checks the internal consistency of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Family != FamilyQwen3 && c.Family != FamilyMistral {
		errs = append(errs, fmt.Errorf("unknown family %q (want %q or %q)", c.Family, FamilyQwen3, FamilyMistral))
	}
	pos := func(name string, v int) {
		if v <= 0 || v > maxDim {
			errs = append(errs, fmt.Errorf("%s must be in [1, %d], got %d", name, maxDim, v))
		}
	}
	pos("VocabSize", c.VocabSize)
	pos("Hidden", c.Hidden)
	pos("NumLayers", c.NumLayers)
	pos("NumHeads", c.NumHeads)
	pos("NumKVHeads", c.NumKVHeads)
	pos("HeadDim", c.HeadDim)
	pos("Intermediate", c.Intermediate)
	pos("MaxPositions", c.MaxPositions)
	if c.NumKVHeads > 0 && c.NumHeads%c.NumKVHeads != 0 {
		errs = append(errs, fmt.Errorf("NumHeads %d is not a multiple of NumKVHeads %d", c.NumHeads, c.NumKVHeads))
	}
	if c.HeadDim%2 != 0 {
		errs = append(errs, fmt.Errorf("HeadDim must be even for rotate-half RoPE, got %d", c.HeadDim))
	}
	if !(c.RMSNormEps > 0) {
		errs = append(errs, fmt.Errorf("RMSNormEps must be > 0, got %g", c.RMSNormEps))
	}
	if !(c.RopeTheta > 1) {
		errs = append(errs, fmt.Errorf("RopeTheta must be > 1, got %g", c.RopeTheta))
	}
	if c.SlidingWindow < 0 {
		errs = append(errs, fmt.Errorf("SlidingWindow must be >= 0, got %d", c.SlidingWindow))
	}
	return errors.Join(errs...)
}

// GroupSize is the number of query heads sharing one key/value head.
func (c Config) GroupSize() int { return c.NumHeads / c.NumKVHeads }

// Canonical weight names, relative to the language model's root (the part of
// a checkpoint name after "model.", "model.language_model." or
// "language_model.model.").
const (
	embedName     = "embed_tokens.weight"
	finalNormName = "norm.weight"
	lmHeadName    = "lm_head.weight"
)

// layerName returns the prefix of decoder layer i: "layers.i".
func layerName(i int) string { return fmt.Sprintf("layers.%d", i) }

// LayerParamShapes lists the weights of one decoder layer by name relative
// to the layer ("self_attn.q_proj.weight", ...), [out, in] for linear layers.
func (c Config) LayerParamShapes() map[string][]int {
	d, q, kv := c.Hidden, c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	p := map[string][]int{
		"input_layernorm.weight":          {d},
		"self_attn.q_proj.weight":         {q, d},
		"self_attn.k_proj.weight":         {kv, d},
		"self_attn.v_proj.weight":         {kv, d},
		"self_attn.o_proj.weight":         {d, q},
		"post_attention_layernorm.weight": {d},
		"mlp.gate_proj.weight":            {c.Intermediate, d},
		"mlp.up_proj.weight":              {c.Intermediate, d},
		"mlp.down_proj.weight":            {d, c.Intermediate},
	}
	if c.QKNorm {
		p["self_attn.q_norm.weight"] = []int{c.HeadDim}
		p["self_attn.k_norm.weight"] = []int{c.HeadDim}
	}
	return p
}

// ParamShapes lists every weight of the whole language model by canonical
// name (LM head included when untied). Loading uses NeededParamShapes.
func (c Config) ParamShapes() map[string][]int {
	p := c.NeededParamShapes(c.NumLayers, true)
	if !c.TieEmbeddings {
		p[lmHeadName] = []int{c.VocabSize, c.Hidden}
	}
	return p
}

// NeededParamShapes lists the weights needed to compute hidden states up to
// index depth (the embeddings and layers 0..depth−1), plus the final norm
// when withNorm.
func (c Config) NeededParamShapes(depth int, withNorm bool) map[string][]int {
	p := map[string][]int{embedName: {c.VocabSize, c.Hidden}}
	layer := c.LayerParamShapes()
	for i := 0; i < depth; i++ {
		for n, s := range layer {
			p[layerName(i)+"."+n] = s
		}
	}
	if withNorm {
		p[finalNormName] = []int{c.Hidden}
	}
	return p
}

// NumParams is the parameter count of the whole language model.
func (c Config) NumParams() int64 {
	return tensorload.CountElements(c.ParamShapes())
}
