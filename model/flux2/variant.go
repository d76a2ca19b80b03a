package flux2

import (
	"fmt"
	"path/filepath"
	"strings"
)

// VariantAuto asks ResolveVariant to name the variant from the checkpoint.
const VariantAuto = "auto"

// UsesCFG reports whether sampling the variant uses real classifier-free
// guidance (two transformer passes per step): base (undistilled) models
// without a guidance embedder. Distilled models and models with a
// distilled-guidance embedder (dev) take guidance as an input instead; a
// custom architecture without one is sampled without CFG.
func (v Variant) UsesCFG() bool {
	return !v.Distilled && !v.Config.GuidanceEmbed && v.Name != CustomVariantName
}

// CustomVariantName names an architecture that matches no published variant.
const CustomVariantName = "custom"

// CustomVariant describes an architecture that matches no published
// variant, with generic sampler defaults.
func CustomVariant(cfg Config) Variant {
	return Variant{Name: CustomVariantName, Description: "custom FLUX.2 architecture", Config: cfg,
		DefaultSteps: 28, DefaultGuidance: 4}
}

// ResolveVariant is the one rule that names the variant of a transformer
// architecture, used by loading, the memory plan, training, sampling,
// quantized checkpoints and adapter metadata alike:
//
//   - requested (a variant name, not "" or "auto") must have exactly cfg's
//     architecture, and is the answer;
//   - otherwise the published variant with cfg's shapes. The klein base and
//     distilled models share shapes, so the checkpoint's name decides: Black
//     Forest Labs name the base files and repositories "…klein-base-…"
//     (flux-2-klein-base-4b.safetensors, FLUX.2-klein-base-4B/) and the
//     distilled ones without "base". source is the checkpoint path: its file
//     name and, for a diffusers folder (…/NAME/transformer/…), NAME are
//     read. With no "klein" in those names the base model is chosen: it is
//     the one LoRAs are trained on, and it samples correctly (with CFG)
//     where the distilled one would only be slower;
//   - otherwise a custom variant (CustomVariant).
func ResolveVariant(cfg Config, requested, source string) (Variant, error) {
	if requested != "" && requested != VariantAuto {
		v, err := VariantByName(requested)
		if err != nil {
			return Variant{}, err
		}
		if v.Config != cfg {
			return Variant{}, fmt.Errorf("%s: the checkpoint's architecture (%s) is not FLUX.2 %s (%s): set model.variant to auto or to the checkpoint's variant",
				source, describeConfig(cfg), v.Name, describeConfig(v.Config))
		}
		return v, nil
	}
	var matches []Variant
	for _, v := range Variants {
		if v.Config == cfg {
			matches = append(matches, v)
		}
	}
	switch len(matches) {
	case 0:
		return CustomVariant(cfg), nil
	case 1:
		return matches[0], nil
	}
	hint := checkpointNameHint(source)
	wantBase := strings.Contains(hint, "base") || !strings.Contains(hint, "klein")
	for _, v := range matches {
		if v.Distilled != wantBase {
			return v, nil
		}
	}
	return matches[0], nil
}

// checkpointNameHint is the lower-cased part of a checkpoint path that names
// the model: the file name, plus the model folder of a diffusers layout
// (MODEL/transformer/FILE) or the folder given itself.
func checkpointNameHint(source string) string {
	parts := []string{filepath.Base(source)}
	dir := filepath.Dir(source)
	if strings.EqualFold(filepath.Base(dir), "transformer") {
		parts = append(parts, filepath.Base(filepath.Dir(dir)))
	}
	return strings.ToLower(strings.Join(parts, " "))
}

// describeConfig is a short human description of an architecture.
func describeConfig(c Config) string {
	return fmt.Sprintf("hidden %d, %d heads, %d double + %d single blocks, context %d", c.Hidden, c.NumHeads, c.Depth, c.DepthSingle, c.ContextDim)
}
