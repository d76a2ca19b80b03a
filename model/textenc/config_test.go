package textenc

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPresetParamCounts checks the presets against parameter counts of the
// transformers models built from the same configs (Qwen3ForCausalLM and
// MistralForCausalLM on the meta device, shared tensors counted once); they
// match the published checkpoint sizes (Qwen3-4B 4.02 B with tied
// embeddings, Qwen3-8B 8.19 B, Mistral-Small-3.1 language model 23.57 B).
func TestPresetParamCounts(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		params  int64
		tensors int
	}{
		{"qwen3-4b", Qwen3_4BConfig(), 4_022_468_096, 2 + 36*11},
		{"qwen3-8b", Qwen3_8BConfig(), 8_190_735_360, 3 + 36*11},
		{"mistral-small-3.1", MistralSmall3Config(), 23_572_403_200, 3 + 40*9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tc.cfg.NumParams(); got != tc.params {
				t.Errorf("NumParams = %d, want %d", got, tc.params)
			}
			if got := len(tc.cfg.ParamShapes()); got != tc.tensors {
				t.Errorf("%d tensors, want %d", got, tc.tensors)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"family", func(c *Config) { c.Family = "llama" }, "unknown family"},
		{"gqa", func(c *Config) { c.NumKVHeads = 3 }, "not a multiple"},
		{"odd head dim", func(c *Config) { c.HeadDim = 15 }, "even"},
		{"huge vocab", func(c *Config) { c.VocabSize = 1 << 40 }, "VocabSize"},
		{"eps", func(c *Config) { c.RMSNormEps = 0 }, "RMSNormEps"},
		{"theta", func(c *Config) { c.RopeTheta = 0 }, "RopeTheta"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := TinyQwen3Config()
			tc.modify(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestConfigFromHF parses config.json files as transformers 5.23 writes them
// (the fixtures), in the older rope_theta/rope_scaling format of the
// published checkpoints, and with fields left to transformers' defaults.
func TestConfigFromHF(t *testing.T) {
	deepQwen := Config{Family: FamilyQwen3, VocabSize: 64, Hidden: 8, NumLayers: 28, NumHeads: 2, NumKVHeads: 1,
		HeadDim: 4, Intermediate: 12, RMSNormEps: 1e-6, RopeTheta: 1e6, QKNorm: true, TieEmbeddings: true, MaxPositions: 1024}
	for _, tc := range []struct {
		file string
		want Config
	}{
		{"qwen3-tiny", TinyQwen3Config()},
		{"mistral3-tiny", TinyMistralConfig()},
		{"qwen3-deep", deepQwen},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ConfigFromHFFile(filepath.Join(fixtureDir, tc.file, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}

	// The published Qwen3-4B config.json (transformers 4.51 format).
	qwen4b := `{"architectures":["Qwen3ForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":151643,
		"eos_token_id":151645,"head_dim":128,"hidden_act":"silu","hidden_size":2560,"initializer_range":0.02,
		"intermediate_size":9728,"max_position_embeddings":40960,"max_window_layers":36,"model_type":"qwen3",
		"num_attention_heads":32,"num_hidden_layers":36,"num_key_value_heads":8,"rms_norm_eps":1e-06,"rope_scaling":null,
		"rope_theta":1000000,"sliding_window":null,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
		"transformers_version":"4.51.0","use_cache":true,"use_sliding_window":false,"vocab_size":151936}`
	// The FLUX.2-dev text_encoder config.json (Mistral-Small-3.x, transformers 4.57 format; vision part abridged).
	mistralSmall := `{"architectures":["Mistral3ForConditionalGeneration"],"image_token_index":10,"model_type":"mistral3",
		"multimodal_projector_bias":false,"projector_hidden_act":"gelu","spatial_merge_size":2,
		"text_config":{"attention_dropout":0.0,"head_dim":128,"hidden_act":"silu","hidden_size":5120,
		"initializer_range":0.02,"intermediate_size":32768,"max_position_embeddings":131072,"model_type":"mistral",
		"num_attention_heads":32,"num_hidden_layers":40,"num_key_value_heads":8,"rms_norm_eps":1e-05,
		"rope_theta":1000000000.0,"sliding_window":null,"use_cache":true,"vocab_size":131072},
		"vision_config":{"model_type":"pixtral","hidden_size":1024}}`
	mistralDefault := MistralSmall3Config()
	qwenDefaults := Config{Family: FamilyQwen3, VocabSize: 151936, Hidden: 64, Intermediate: 22016, NumLayers: 32, NumHeads: 32,
		NumKVHeads: 32, HeadDim: 128, MaxPositions: 32768, RMSNormEps: 1e-6, RopeTheta: 10000, QKNorm: true}
	mistralDefaults := Config{Family: FamilyMistral, VocabSize: 32000, Hidden: 64, Intermediate: 14336, NumLayers: 32, NumHeads: 32,
		NumKVHeads: 8, HeadDim: 2, MaxPositions: 131072, RMSNormEps: 1e-6, RopeTheta: 10000, SlidingWindow: 4096}
	for _, tc := range []struct {
		name, json string
		want       Config
	}{
		{"qwen3-4b", qwen4b, Qwen3_4BConfig()},
		{"mistral-small", mistralSmall, MistralSmall3Config()},
		{"mistral3 without text_config", `{"model_type":"mistral3"}`, mistralDefault},
		{"qwen3 defaults", `{"model_type":"qwen3","hidden_size":64}`, qwenDefaults},
		{"mistral3 text_config defaults", `{"model_type":"mistral3","text_config":{"model_type":"mistral","hidden_size":64}}`, mistralDefaults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromHF([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestConfigFromHFErrors(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"not json", `{`, "parsing config.json"},
		{"no model_type", `{"architectures":["X"]}`, "no model_type"},
		{"llama", `{"model_type":"llama"}`, "unsupported text encoder model_type \"llama\""},
		{"yarn", `{"model_type":"qwen3","rope_scaling":{"rope_type":"yarn","factor":4}}`, "RoPE type \"yarn\""},
		{"old yarn", `{"model_type":"mistral","rope_scaling":{"type":"yarn"}}`, "RoPE type \"yarn\""},
		{"gelu", `{"model_type":"qwen3","hidden_act":"gelu"}`, "hidden_act"},
		{"bias", `{"model_type":"qwen3","attention_bias":true}`, "attention_bias"},
		{"qwen sliding", `{"model_type":"qwen3","use_sliding_window":true}`, "use_sliding_window"},
		{"vision text model", `{"model_type":"mistral3","text_config":{"model_type":"llama"}}`, "only \"mistral\""},
		{"bad sizes", `{"model_type":"qwen3","num_key_value_heads":5}`, "not a multiple"},
		{"absurd size", `{"model_type":"qwen3","vocab_size":100000000000}`, "VocabSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromHF([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ConfigFromHF = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
