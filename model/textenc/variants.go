package textenc

import (
	"fmt"

	"github.com/flora-ml/flora/model/flux2"
)

// ForVariant returns the text-encoder architecture of a FLUX.2 variant and
// the hidden-state layers its pipeline stacks: Mistral Small 3.x with
// (10, 20, 30) for dev, Qwen3-4B/8B with (9, 18, 27) for klein. The layer set
// comes from the variant, never from a global default.
func ForVariant(v flux2.Variant) (Config, []int, error) {
	var cfg Config
	switch v.TextEncoder {
	case "mistral3":
		cfg = MistralSmall3()
	case "qwen3-4b":
		cfg = Qwen3_4B()
	case "qwen3-8b":
		cfg = Qwen3_8B()
	default:
		return Config{}, nil, fmt.Errorf("variant %s has no published text encoder (%q)", v.Name, v.TextEncoder)
	}
	if len(v.TextLayers)*cfg.Hidden != v.Config.ContextDim {
		return Config{}, nil, fmt.Errorf("variant %s: %d layers × hidden %d ≠ context %d", v.Name, len(v.TextLayers), cfg.Hidden, v.Config.ContextDim)
	}
	return cfg, v.TextLayers[:], nil
}
