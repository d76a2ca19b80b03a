package textenc

import (
	"encoding/json"
	"fmt"
)

// HFConfigJSON is the transformers config.json of a Qwen3 text encoder with
// this architecture (Qwen3ForCausalLM, what ConfigFromHF reads back).
// Mistral configurations are not written: FLUX.2 [dev] ships them inside a
// Mistral3 multimodal config Flora does not reproduce.
func (c Config) HFConfigJSON() ([]byte, error) {
	if c.Family != FamilyQwen3 {
		return nil, fmt.Errorf("writing a %s text encoder config is not supported (only qwen3)", c.Family)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rope, err := json.Marshal(map[string]any{"rope_type": "default", "rope_theta": c.RopeTheta})
	if err != nil {
		return nil, err
	}
	act, noBias, noSliding := "silu", false, false
	h := hfConfig{Architectures: []string{"Qwen3ForCausalLM"}, hfTextConfig: hfTextConfig{ModelType: "qwen3",
		VocabSize: &c.VocabSize, HiddenSize: &c.Hidden, Intermediate: &c.Intermediate, NumLayers: &c.NumLayers,
		NumHeads: &c.NumHeads, NumKVHeads: &c.NumKVHeads, HeadDim: &c.HeadDim, HiddenAct: &act, MaxPositions: &c.MaxPositions,
		RMSNormEps: &c.RMSNormEps, TieEmbeddings: &c.TieEmbeddings, RopeTheta: &c.RopeTheta, RopeParameters: rope,
		AttentionBias: &noBias, UseSlidingWindow: &noSliding}}
	return json.MarshalIndent(h, "", "  ")
}
