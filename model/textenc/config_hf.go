package textenc

import (
	"encoding/json"
	"fmt"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/jsonfield"
)

// hfTextConfig holds the fields of a transformers Qwen3Config / MistralConfig
// that matter here; pointers tell absent fields from zero values.
type hfTextConfig struct {
	ModelType        string          `json:"model_type"`
	VocabSize        *int            `json:"vocab_size"`
	HiddenSize       *int            `json:"hidden_size"`
	Intermediate     *int            `json:"intermediate_size"`
	NumLayers        *int            `json:"num_hidden_layers"`
	NumHeads         *int            `json:"num_attention_heads"`
	NumKVHeads       *int            `json:"num_key_value_heads"`
	HeadDim          *int            `json:"head_dim"`
	HiddenAct        *string         `json:"hidden_act"`
	MaxPositions     *int            `json:"max_position_embeddings"`
	RMSNormEps       *float64        `json:"rms_norm_eps"`
	TieEmbeddings    *bool           `json:"tie_word_embeddings"`
	RopeTheta        *float64        `json:"rope_theta"`
	RopeScaling      json.RawMessage `json:"rope_scaling"`
	RopeParameters   json.RawMessage `json:"rope_parameters"`
	AttentionBias    *bool           `json:"attention_bias"`
	SlidingWindow    json.RawMessage `json:"sliding_window"`
	UseSlidingWindow *bool           `json:"use_sliding_window"`
}

type hfConfig struct {
	hfTextConfig
	Architectures []string      `json:"architectures"`
	TextConfig    *hfTextConfig `json:"text_config"`
}

// ConfigFromHFFile reads a Hugging Face config.json (see ConfigFromHF).
func ConfigFromHFFile(path string) (Config, error) {
	data, err := fsutil.ReadFileLimited(path, fsutil.MaxConfigJSONBytes, "a config.json")
	if err != nil {
		return Config{}, fmt.Errorf("reading text encoder config: %w", err)
	}
	c, err := ConfigFromHF(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ConfigFromHF parses a Hugging Face config.json of a Qwen3ForCausalLM
// (model_type "qwen3"), a Mistral3ForConditionalGeneration (model_type
// "mistral3", whose text_config holds the language model) or a plain Mistral
// model (model_type "mistral"). Absent fields take transformers' defaults
// (Qwen3Config, MistralConfig, and for a mistral3 file without text_config
// the Mistral-Small-3.1 text config).
func ConfigFromHF(data []byte) (Config, error) {
	var top hfConfig
	if err := json.Unmarshal(data, &top); err != nil {
		return Config{}, fmt.Errorf("parsing config.json: %w", err)
	}
	switch top.ModelType {
	case "qwen3":
		return top.hfTextConfig.toConfig(FamilyQwen3)
	case "mistral":
		return top.hfTextConfig.toConfig(FamilyMistral)
	case "mistral3":
		if top.TextConfig == nil {
			return MistralSmall3Config(), nil
		}
		if mt := top.TextConfig.ModelType; mt != "" && mt != "mistral" {
			return Config{}, fmt.Errorf("mistral3 text_config has model_type %q; only \"mistral\" language models are supported", mt)
		}
		c, err := top.TextConfig.toConfig(FamilyMistral)
		if err != nil {
			return Config{}, fmt.Errorf("text_config: %w", err)
		}
		return c, nil
	case "":
		return Config{}, fmt.Errorf("config.json has no model_type (architectures %v); expected a Qwen3 or Mistral3 text encoder config", top.Architectures)
	}
	return Config{}, fmt.Errorf("unsupported text encoder model_type %q (architectures %v): supported are qwen3 (FLUX.2 klein) and mistral3/mistral (FLUX.2 dev)", top.ModelType, top.Architectures)
}

func (h hfTextConfig) toConfig(family Family) (Config, error) {
	// transformers 5.23 defaults: Qwen3Config and MistralConfig.
	c := Config{Family: family, VocabSize: 151936, Hidden: 4096, Intermediate: 22016, NumLayers: 32, NumHeads: 32,
		HeadDim: 128, MaxPositions: 32768, RMSNormEps: 1e-6, RopeTheta: 10000, QKNorm: true}
	if family == FamilyMistral {
		c = Config{Family: family, VocabSize: 32000, Hidden: 4096, Intermediate: 14336, NumLayers: 32, NumHeads: 32,
			NumKVHeads: 8, MaxPositions: 131072, RMSNormEps: 1e-6, RopeTheta: 10000, SlidingWindow: 4096}
	}
	jsonfield.Set(&c.VocabSize, h.VocabSize)
	jsonfield.Set(&c.Hidden, h.HiddenSize)
	jsonfield.Set(&c.Intermediate, h.Intermediate)
	jsonfield.Set(&c.NumLayers, h.NumLayers)
	jsonfield.Set(&c.NumHeads, h.NumHeads)
	jsonfield.Set(&c.MaxPositions, h.MaxPositions)
	if family == FamilyQwen3 {
		c.NumKVHeads = c.NumHeads // Qwen3Config: None means NumHeads
	}
	jsonfield.Set(&c.NumKVHeads, h.NumKVHeads)
	if family == FamilyMistral && c.NumHeads > 0 {
		c.HeadDim = c.Hidden / c.NumHeads // MistralConfig: None means Hidden/NumHeads
	}
	jsonfield.Set(&c.HeadDim, h.HeadDim)
	jsonfield.Set(&c.RMSNormEps, h.RMSNormEps)
	jsonfield.Set(&c.TieEmbeddings, h.TieEmbeddings)
	if h.HiddenAct != nil && *h.HiddenAct != "silu" {
		return Config{}, fmt.Errorf("hidden_act %q is not supported (the SwiGLU MLP uses silu)", *h.HiddenAct)
	}
	if h.AttentionBias != nil && *h.AttentionBias {
		return Config{}, fmt.Errorf("attention_bias=true is not supported (Qwen3 text encoders have no biases)")
	}
	if err := h.rope(&c); err != nil {
		return Config{}, err
	}
	if err := h.slidingWindow(&c, family); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// rope reads rope_theta and the RoPE type from either the transformers ≥ 5
// "rope_parameters" object or the older "rope_theta" + "rope_scaling" fields.
func (h hfTextConfig) rope(c *Config) error {
	jsonfield.Set(&c.RopeTheta, h.RopeTheta)
	for _, raw := range []json.RawMessage{h.RopeScaling, h.RopeParameters} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var p struct {
			RopeType *string  `json:"rope_type"`
			Type     *string  `json:"type"`
			Theta    *float64 `json:"rope_theta"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("rope parameters %s: %w (per-layer-type RoPE parameters are not supported)", raw, err)
		}
		typ := "default"
		if p.RopeType != nil {
			typ = *p.RopeType
		} else if p.Type != nil {
			typ = *p.Type
		}
		if typ != "default" {
			return fmt.Errorf("RoPE type %q is not supported (only \"default\"; the FLUX.2 text encoders use no RoPE scaling)", typ)
		}
		jsonfield.Set(&c.RopeTheta, p.Theta)
	}
	return nil
}

// slidingWindow applies transformers' rules: Mistral uses sliding_window
// (default 4096, null = none); Qwen3 only when use_sliding_window, and then
// only on some layers, which is not supported.
func (h hfTextConfig) slidingWindow(c *Config, family Family) error {
	if family == FamilyQwen3 {
		if h.UseSlidingWindow != nil && *h.UseSlidingWindow {
			return fmt.Errorf("use_sliding_window=true is not supported for Qwen3 text encoders")
		}
		return nil
	}
	if len(h.SlidingWindow) == 0 {
		return nil // MistralConfig default 4096
	}
	if string(h.SlidingWindow) == "null" {
		c.SlidingWindow = 0
		return nil
	}
	var w int
	if err := json.Unmarshal(h.SlidingWindow, &w); err != nil {
		return fmt.Errorf("sliding_window %s: %w", h.SlidingWindow, err)
	}
	if w <= 0 {
		return fmt.Errorf("sliding_window must be > 0 or null, got %d", w)
	}
	c.SlidingWindow = w
	return nil
}
