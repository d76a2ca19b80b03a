// Package textenc is the text-encoder side of FLUX.2: the decoder-only
// language models whose intermediate hidden states condition the transformer
// — Mistral Small 3.x for [dev], Qwen3 4B/8B for [klein] — run in GoMLX,
// returning the selected hidden states stacked per token exactly as the
// reference pipelines do. Tokenization and chat templates live in the
// tokenizer subpackage.
package textenc

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Config is the architecture of a decoder-only language model.
type Config struct {
	// Family is "qwen3" (per-head q/k RMSNorm) or "mistral".
	Family       string
	Vocab        int
	Hidden       int
	Layers       int
	Heads        int
	KVHeads      int
	HeadDim      int
	Intermediate int
	RMSEps       float64
	RopeTheta    float64
}

// QKNorm reports whether the family normalises queries and keys per head.
func (c Config) QKNorm() bool { return c.Family == "qwen3" }

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Family != "qwen3" && c.Family != "mistral" {
		errs = append(errs, fmt.Errorf("family must be qwen3 or mistral, got %q", c.Family))
	}
	for name, v := range map[string]int{"vocab": c.Vocab, "hidden": c.Hidden, "layers": c.Layers, "heads": c.Heads,
		"kv heads": c.KVHeads, "head dim": c.HeadDim, "intermediate": c.Intermediate} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %d", name, v))
		}
	}
	if c.KVHeads > 0 && c.Heads%c.KVHeads != 0 {
		errs = append(errs, fmt.Errorf("heads %d not divisible by kv heads %d", c.Heads, c.KVHeads))
	}
	if c.HeadDim%2 != 0 {
		errs = append(errs, fmt.Errorf("head dim %d must be even", c.HeadDim))
	}
	if !(c.RMSEps > 0) || !(c.RopeTheta > 0) {
		errs = append(errs, fmt.Errorf("rms eps %g and rope theta %g must be > 0", c.RMSEps, c.RopeTheta))
	}
	return errors.Join(errs...)
}

// Qwen3_4B is the text encoder of FLUX.2 [klein] 4B.
func Qwen3_4B() Config {
	return Config{Family: "qwen3", Vocab: 151936, Hidden: 2560, Layers: 36, Heads: 32, KVHeads: 8, HeadDim: 128,
		Intermediate: 9728, RMSEps: 1e-6, RopeTheta: 1e6}
}

// Qwen3_8B is the text encoder of FLUX.2 [klein] 9B.
func Qwen3_8B() Config {
	return Config{Family: "qwen3", Vocab: 151936, Hidden: 4096, Layers: 36, Heads: 32, KVHeads: 8, HeadDim: 128,
		Intermediate: 12288, RMSEps: 1e-6, RopeTheta: 1e6}
}

// MistralSmall3 is the language model of Mistral-Small-3.x-24B, the text
// encoder of FLUX.2 [dev].
func MistralSmall3() Config {
	return Config{Family: "mistral", Vocab: 131072, Hidden: 5120, Layers: 40, Heads: 32, KVHeads: 8, HeadDim: 128,
		Intermediate: 32768, RMSEps: 1e-5, RopeTheta: 1e9}
}

// hfConfig is the part of a Hugging Face config.json Flora reads
// (Qwen3ForCausalLM, MistralForCausalLM, or Mistral3ForConditionalGeneration
// whose text_config holds the language model).
type hfConfig struct {
	ModelType        string    `json:"model_type"`
	VocabSize        int       `json:"vocab_size"`
	HiddenSize       int       `json:"hidden_size"`
	NumLayers        int       `json:"num_hidden_layers"`
	NumHeads         int       `json:"num_attention_heads"`
	NumKVHeads       int       `json:"num_key_value_heads"`
	HeadDim          int       `json:"head_dim"`
	Intermediate     int       `json:"intermediate_size"`
	RMSNormEps       float64   `json:"rms_norm_eps"`
	RopeTheta        float64   `json:"rope_theta"`
	RopeParameters   *ropeHF   `json:"rope_parameters"`
	RopeScaling      *ropeHF   `json:"rope_scaling"`
	TextConfig       *hfConfig `json:"text_config"`
	SlidingWindow    *int      `json:"sliding_window"`
	UseSlidingWindow bool      `json:"use_sliding_window"`
}

type ropeHF struct {
	RopeTheta float64 `json:"rope_theta"`
	RopeType  string  `json:"rope_type"`
	Type      string  `json:"type"`
}

// ParseHFConfig reads a Hugging Face config.json of a Qwen3 or Mistral
// (or Mistral3 multimodal, text part) model.
func ParseHFConfig(data []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, fmt.Errorf("parsing config.json: %w", err)
	}
	if h.TextConfig != nil {
		h = *h.TextConfig
		if h.ModelType == "" {
			h.ModelType = "mistral"
		}
	}
	c := Config{Vocab: h.VocabSize, Hidden: h.HiddenSize, Layers: h.NumLayers, Heads: h.NumHeads, KVHeads: h.NumKVHeads,
		HeadDim: h.HeadDim, Intermediate: h.Intermediate, RMSEps: h.RMSNormEps, RopeTheta: h.RopeTheta}
	switch h.ModelType {
	case "qwen3":
		c.Family = "qwen3"
	case "mistral", "ministral":
		c.Family = "mistral"
	default:
		return Config{}, fmt.Errorf("config.json: model_type %q is not a FLUX.2 text encoder (qwen3 or mistral)", h.ModelType)
	}
	for _, r := range []*ropeHF{h.RopeParameters, h.RopeScaling} {
		if r == nil {
			continue
		}
		if r.RopeTheta > 0 {
			c.RopeTheta = r.RopeTheta
		}
		if t := r.RopeType + r.Type; t != "" && t != "default" {
			return Config{}, fmt.Errorf("config.json: rope scaling %q is not supported (FLUX.2 encoders use plain RoPE)", t)
		}
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.RMSEps == 0 {
		c.RMSEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	return c, c.Validate()
}
