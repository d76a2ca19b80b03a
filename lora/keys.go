package lora

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// loraKey is one tensor name of a LoRA file taken apart.
type loraKey struct {
	// Name is the tensor name in the file.
	Name string
	// Stem is the module path in the file's own naming, with the file-level
	// prefix (transformer., diffusion_model., base_model.model., ...)
	// removed; kohya stems keep their lora_unet_ prefix.
	Stem string
	// Kind is "down" (A), "up" (B), "alpha", or a LoKr factor: "w1", "w2",
	// "w2_a", "w2_b" (lokrKinds).
	Kind string
	// Naming is the naming scheme of the stem.
	Naming Format
}

var (
	reFactor = regexp.MustCompile(`^(.+)\.(lora_A|lora_B|lora_down|lora_up)(?:\.([^.]+))?\.weight$`)
	reAlpha  = regexp.MustCompile(`^(.+)\.alpha$`)
	reLoKr   = regexp.MustCompile(`^(.+)\.(lokr_w1|lokr_w2|lokr_w2_a|lokr_w2_b)$`)
)

// filePrefixes are the prefixes LoRA files put in front of module paths:
// PEFT's base_model.model., ComfyUI's diffusion_model. (also under model.),
// diffusers' transformer.
var filePrefixes = []string{"base_model.model.", "model.diffusion_model.", "diffusion_model.", "transformer."}

// diffusersGlobals are the diffusers paths of the layers outside the blocks.
func diffusersGlobals() map[string]bool {
	out := map[string]bool{}
	cfg := flux2.TinyConfig()
	layers, group := Layers(cfg)
	for _, l := range layers {
		if group[l.Module] != "global" {
			continue
		}
		if src, err := flux2.DiffusersSource(l.Module + ".weight"); err == nil {
			for _, p := range src.Parts {
				out[strings.TrimSuffix(p, ".weight")] = true
			}
		}
	}
	return out
}

// unsupportedAdapter names adapter types Flora cannot apply, from a tensor
// name, or "".
func unsupportedAdapter(name string) string {
	switch {
	case strings.HasPrefix(name, "lycoris_"):
		return "LyCORIS-named (lycoris_<diffusers module>)"
	case strings.Contains(name, ".lokr_") && !reLoKr.MatchString(name):
		return "LoKr with a decomposed w1 or Tucker factors (lokr_w1_a/b, lokr_t1/t2)"
	case strings.Contains(name, ".hada_"):
		return "LoHa"
	case strings.Contains(name, "dora_scale") || strings.Contains(name, "lora_magnitude_vector"):
		return "DoRA"
	case strings.Contains(name, ".lora_B.bias") || strings.Contains(name, ".lora_up.bias"):
		return "LoRA with bias terms"
	}
	return ""
}

// isTextEncoderKey reports whether a tensor adapts a text encoder (kohya
// lora_te*, diffusers text_encoder*), which Flora does not train or apply.
func isTextEncoderKey(name string) bool {
	for _, p := range []string{"lora_te", "text_encoder", "te."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// parseKeys takes a LoRA file's tensor names apart. Text-encoder tensors are
// skipped with a warning; other adapter types and stray tensors are errors.
func parseKeys(names []string) ([]loraKey, []string, error) {
	globals := diffusersGlobals()
	var keys []loraKey
	var warnings, unexpected []string
	skippedTE := 0
	adapterNames := map[string]bool{}
	for _, n := range names {
		if what := unsupportedAdapter(n); what != "" {
			return nil, nil, fmt.Errorf("tensor %s belongs to a %s adapter; Flora reads LoRA (lora_A/lora_B or lora_down/lora_up) and LoKr with lokr_w1 and lokr_w2 or lokr_w2_a/b on official or kohya module names", n, what)
		}
		if isTextEncoderKey(n) {
			skippedTE++
			continue
		}
		k := loraKey{Name: n}
		if m := reFactor.FindStringSubmatch(n); m != nil {
			k.Stem, k.Kind = m[1], "down"
			if m[2] == "lora_B" || m[2] == "lora_up" {
				k.Kind = "up"
			}
			if m[3] != "" {
				adapterNames[m[3]] = true
			}
		} else if m := reLoKr.FindStringSubmatch(n); m != nil {
			k.Stem, k.Kind = m[1], lokrKinds[m[2]]
		} else if m := reAlpha.FindStringSubmatch(n); m != nil {
			k.Stem, k.Kind = m[1], "alpha"
		} else {
			unexpected = append(unexpected, n)
			continue
		}
		if strings.HasPrefix(k.Stem, "lora_unet_") {
			k.Naming = FormatKohya
		} else {
			for _, p := range filePrefixes {
				if strings.HasPrefix(k.Stem, p) {
					k.Stem = k.Stem[len(p):]
					break
				}
			}
			k.Naming = FormatComfy
			if strings.HasPrefix(k.Stem, "transformer_blocks.") || strings.HasPrefix(k.Stem, "single_transformer_blocks.") || globals[k.Stem] {
				k.Naming = FormatDiffusers
			}
		}
		keys = append(keys, k)
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		if len(unexpected) > 5 {
			unexpected = append(unexpected[:5], fmt.Sprintf("... %d more", len(unexpected)-5))
		}
		return nil, nil, fmt.Errorf("tensors that are not LoRA factors or alphas: %s", strings.Join(unexpected, ", "))
	}
	if skippedTE > 0 {
		warnings = append(warnings, fmt.Sprintf("skipped %d text-encoder LoRA tensors (Flora adapts the transformer only)", skippedTE))
	}
	if len(adapterNames) > 1 {
		list := make([]string, 0, len(adapterNames))
		for a := range adapterNames {
			list = append(list, a)
		}
		sort.Strings(list)
		return nil, nil, fmt.Errorf("the file holds several PEFT adapters (%s); save one adapter per file", strings.Join(list, ", "))
	}
	return keys, warnings, nil
}

// FactorDType returns the dtype a LoRA file stores its up (B) factors (a
// LoKr file its lokr_w1) in,
// so a conversion can keep it (Meta.DType).
func FactorDType(path string) (weights.DType, error) {
	f, err := weights.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	keys, _, err := parseKeys(f.Names())
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range keys {
		if k.Kind == "up" || k.Kind == "w1" {
			info, _ := f.Info(k.Name)
			return info.DType, nil
		}
	}
	return "", fmt.Errorf("%s: no LoRA up (B) tensor", path)
}
