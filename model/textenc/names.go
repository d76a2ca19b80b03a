package textenc

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// lmPrefixes are the checkpoint prefixes of the language model's root, most
// specific first: Mistral3ForConditionalGeneration in the transformers ≥ 4.52
// layout, the same in the older layout (which transformers 5 still writes),
// and Qwen3ForCausalLM / MistralForCausalLM.
var lmPrefixes = []string{"model.language_model.", "language_model.model.", "model."}

// skippedPrefixes are checkpoint parts that are never loaded: the LM heads,
// Mistral3's Pixtral vision tower and multimodal projector.
var skippedPrefixes = []string{
	"lm_head.", "language_model.lm_head.",
	"vision_tower.", "model.vision_tower.",
	"multi_modal_projector.", "model.multi_modal_projector.",
}

// reLayerParam matches a decoder-layer parameter name relative to the LM root.
var reLayerParam = regexp.MustCompile(`^layers\.(\d+)\.(.+)$`)

// DetectPrefix returns the prefix under which a checkpoint stores the
// language model ("model.", "model.language_model." or
// "language_model.model."), found by its token-embedding table.
func DetectPrefix(names []string) (string, error) {
	has := make(map[string]bool, len(names))
	for _, n := range names {
		has[n] = true
	}
	for _, p := range lmPrefixes {
		if has[p+embedName] {
			return p, nil
		}
	}
	looked := make([]string, len(lmPrefixes))
	for i, p := range lmPrefixes {
		looked[i] = p + embedName
	}
	return "", errors.New("no language-model token embeddings found (looked for " + strings.Join(looked, ", ") +
		"); is this a Qwen3 or Mistral3 text encoder checkpoint?")
}

// classify sorts a stored name into the canonical name it provides (wanted
// != ""), a known part that is not needed (skip) or an unexpected tensor.
func (c Config) classify(stored, prefix string, needed map[string][]int) (canonical string, skip bool) {
	for _, p := range skippedPrefixes {
		if strings.HasPrefix(stored, p) {
			return "", true
		}
	}
	if !strings.HasPrefix(stored, prefix) {
		return "", false
	}
	rel := stored[len(prefix):]
	if _, ok := needed[rel]; ok {
		return rel, false
	}
	if rel == finalNormName {
		return "", true
	}
	if m := reLayerParam.FindStringSubmatch(rel); m != nil {
		if strings.HasSuffix(m[2], "rotary_emb.inv_freq") {
			return "", true // a buffer some old checkpoints saved
		}
		var i int
		if _, err := fmt.Sscanf(m[1], "%d", &i); err == nil && i < c.NumLayers {
			if _, ok := c.LayerParamShapes()[m[2]]; ok {
				return "", true // a layer beyond the deepest needed one
			}
		}
	}
	return "", false
}
