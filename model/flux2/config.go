// Package flux2 is the FLUX.2 diffusion transformer (the "flow model") in
// GoMLX: configuration presets for every published variant, the forward pass
// exact to Black Forest Labs' reference implementation, and loading of both
// the official single-file and the diffusers folder weight layouts.
//
// Weights live in a GoMLX context, each variable scoped by its module path in
// the official checkpoint: "double_blocks.0.img_attn.qkv.weight" is variable
// "weight" in scope /double_blocks/0/img_attn/qkv. Graph functions receive the
// weights they need through a Weights value, so the same block code runs in
// one whole-model program or in per-block programs (gradient checkpointing).
package flux2

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flora-ml/flora/internal/tensorload"
)

// Config is the architecture of one FLUX.2 transformer.
type Config struct {
	// InChannels is the width of a latent token (128 for the published models:
	// 32 VAE channels × 2×2 patch).
	InChannels int
	// ContextDim is the width of the text embeddings (3 × LLM hidden size).
	ContextDim int
	// Hidden is the model width D.
	Hidden int
	// NumHeads is the number of attention heads H; head dim = Hidden/NumHeads.
	NumHeads int
	// Depth is the number of double-stream blocks.
	Depth int
	// DepthSingle is the number of single-stream blocks.
	DepthSingle int
	// AxesDim is the RoPE width of each position axis (t, h, w, l); they sum
	// to the head dim.
	AxesDim [4]int
	// Theta is the RoPE base.
	Theta float64
	// MLPRatio sets the MLP hidden size M = MLPRatio × Hidden.
	MLPRatio float64
	// GuidanceEmbed adds the distilled-guidance embedder (dev only).
	GuidanceEmbed bool
}

// Variant is a named, published FLUX.2 transformer.
type Variant struct {
	// Name is Flora's name (dev, klein-4b, ...), used in configs.
	Name string
	// Description is a human name.
	Description string
	Config      Config
	// Distilled variants sample in few steps without classifier-free
	// guidance; base (undistilled) variants use real CFG and are the ones
	// to train LoRAs on.
	Distilled bool
	// DefaultSteps and DefaultGuidance are the reference sampler defaults.
	DefaultSteps    int
	DefaultGuidance float64
	// TextLayers are the hidden-state indices of the text encoder stacked to
	// form the context (0 = embeddings).
	TextLayers [3]int
	// TextEncoder names the text encoder family.
	TextEncoder string
	// ArchTag is the kohya/ai-toolkit `ss_base_model_version` value.
	ArchTag string
}

func devConfig() Config {
	return Config{InChannels: 128, ContextDim: 15360, Hidden: 6144, NumHeads: 48, Depth: 8, DepthSingle: 48,
		AxesDim: [4]int{32, 32, 32, 32}, Theta: 2000, MLPRatio: 3, GuidanceEmbed: true}
}

func klein4BConfig() Config {
	return Config{InChannels: 128, ContextDim: 7680, Hidden: 3072, NumHeads: 24, Depth: 5, DepthSingle: 20,
		AxesDim: [4]int{32, 32, 32, 32}, Theta: 2000, MLPRatio: 3}
}

func klein9BConfig() Config {
	return Config{InChannels: 128, ContextDim: 12288, Hidden: 4096, NumHeads: 32, Depth: 8, DepthSingle: 24,
		AxesDim: [4]int{32, 32, 32, 32}, Theta: 2000, MLPRatio: 3}
}

// TinyConfig is the architecture of the official tiny reference fixture and
// of Flora's embedded demo model: real FLUX.2 structure at toy size.
func TinyConfig() Config {
	return Config{InChannels: 16, ContextDim: 40, Hidden: 96, NumHeads: 3, Depth: 2, DepthSingle: 2,
		AxesDim: [4]int{8, 8, 8, 8}, Theta: 2000, MLPRatio: 3, GuidanceEmbed: true}
}

// Variants lists the published FLUX.2 transformers plus the tiny test model.
var Variants = []Variant{
	{Name: "dev", Description: "FLUX.2 [dev] 32B", Config: devConfig(), Distilled: true, DefaultSteps: 50, DefaultGuidance: 4,
		TextLayers: [3]int{10, 20, 30}, TextEncoder: "mistral3", ArchTag: "flux2"},
	{Name: "klein-4b", Description: "FLUX.2 [klein] 4B (distilled)", Config: klein4BConfig(), Distilled: true, DefaultSteps: 4, DefaultGuidance: 1,
		TextLayers: [3]int{9, 18, 27}, TextEncoder: "qwen3-4b", ArchTag: "flux2_klein_4b"},
	{Name: "klein-9b", Description: "FLUX.2 [klein] 9B (distilled)", Config: klein9BConfig(), Distilled: true, DefaultSteps: 4, DefaultGuidance: 1,
		TextLayers: [3]int{9, 18, 27}, TextEncoder: "qwen3-8b", ArchTag: "flux2_klein_9b"},
	{Name: "klein-base-4b", Description: "FLUX.2 [klein] base 4B", Config: klein4BConfig(), DefaultSteps: 50, DefaultGuidance: 4,
		TextLayers: [3]int{9, 18, 27}, TextEncoder: "qwen3-4b", ArchTag: "flux2_klein_4b"},
	{Name: "klein-base-9b", Description: "FLUX.2 [klein] base 9B", Config: klein9BConfig(), DefaultSteps: 50, DefaultGuidance: 4,
		TextLayers: [3]int{9, 18, 27}, TextEncoder: "qwen3-8b", ArchTag: "flux2_klein_9b"},
	{Name: "tiny", Description: "tiny FLUX.2 (test/demo size)", Config: TinyConfig(), Distilled: true, DefaultSteps: 4, DefaultGuidance: 3.5,
		TextLayers: [3]int{1, 2, 3}, TextEncoder: "tiny", ArchTag: "flux2_tiny"},
}

// VariantByName returns the named variant.
func VariantByName(name string) (Variant, error) {
	names := make([]string, 0, len(Variants))
	for _, v := range Variants {
		if v.Name == name {
			return v, nil
		}
		names = append(names, v.Name)
	}
	return Variant{}, fmt.Errorf("unknown FLUX.2 variant %q (known: %s)", name, strings.Join(names, ", "))
}

// HeadDim is the per-head width.
func (c Config) HeadDim() int { return c.Hidden / c.NumHeads }

// MLPHidden is the MLP hidden size M.
func (c Config) MLPHidden() int { return int(float64(c.Hidden) * c.MLPRatio) }

// Validate checks the internal consistency of the configuration.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %d", name, v))
		}
	}
	pos("InChannels", c.InChannels)
	pos("ContextDim", c.ContextDim)
	pos("Hidden", c.Hidden)
	pos("NumHeads", c.NumHeads)
	if c.Depth < 0 || c.DepthSingle < 0 {
		errs = append(errs, fmt.Errorf("block counts must be >= 0, got %d double / %d single", c.Depth, c.DepthSingle))
	}
	if c.NumHeads > 0 && c.Hidden%c.NumHeads != 0 {
		errs = append(errs, fmt.Errorf("Hidden %d is not divisible by NumHeads %d", c.Hidden, c.NumHeads))
	}
	sum := 0
	for i, a := range c.AxesDim {
		if a <= 0 || a%2 != 0 {
			errs = append(errs, fmt.Errorf("AxesDim[%d] must be a positive even number, got %d", i, a))
		}
		sum += a
	}
	if c.NumHeads > 0 && sum != c.HeadDim() {
		errs = append(errs, fmt.Errorf("AxesDim %v sums to %d, want head dim %d", c.AxesDim, sum, c.HeadDim()))
	}
	if !(c.Theta > 0) {
		errs = append(errs, fmt.Errorf("Theta must be > 0, got %g", c.Theta))
	}
	if !(c.MLPRatio > 0) || float64(c.MLPHidden()) != float64(c.Hidden)*c.MLPRatio {
		errs = append(errs, fmt.Errorf("MLPRatio %g must be > 0 and give an integer MLP width", c.MLPRatio))
	}
	return errors.Join(errs...)
}

// TimeEmbedDim is the width of the sinusoidal time/guidance embedding.
const TimeEmbedDim = 256

// ParamShapes lists every weight of the model by its official name with its
// shape ([out, in] for linear layers). It is the source of truth for
// loading, parameter counting and random initialisation.
func (c Config) ParamShapes() map[string][]int {
	d, m, hd := c.Hidden, c.MLPHidden(), c.HeadDim()
	p := map[string][]int{
		"img_in.weight":                           {d, c.InChannels},
		"txt_in.weight":                           {d, c.ContextDim},
		"time_in.in_layer.weight":                 {d, TimeEmbedDim},
		"time_in.out_layer.weight":                {d, d},
		"double_stream_modulation_img.lin.weight": {6 * d, d},
		"double_stream_modulation_txt.lin.weight": {6 * d, d},
		"single_stream_modulation.lin.weight":     {3 * d, d},
		"final_layer.adaLN_modulation.1.weight":   {2 * d, d},
		"final_layer.linear.weight":               {c.InChannels, d},
	}
	if c.GuidanceEmbed {
		p["guidance_in.in_layer.weight"] = []int{d, TimeEmbedDim}
		p["guidance_in.out_layer.weight"] = []int{d, d}
	}
	for i := 0; i < c.Depth; i++ {
		for _, s := range []string{"img", "txt"} {
			pre := fmt.Sprintf("double_blocks.%d.%s_", i, s)
			p[pre+"attn.qkv.weight"] = []int{3 * d, d}
			p[pre+"attn.norm.query_norm.scale"] = []int{hd}
			p[pre+"attn.norm.key_norm.scale"] = []int{hd}
			p[pre+"attn.proj.weight"] = []int{d, d}
			p[pre+"mlp.0.weight"] = []int{2 * m, d}
			p[pre+"mlp.2.weight"] = []int{d, m}
		}
	}
	for i := 0; i < c.DepthSingle; i++ {
		pre := fmt.Sprintf("single_blocks.%d.", i)
		p[pre+"linear1.weight"] = []int{3*d + 2*m, d}
		p[pre+"linear2.weight"] = []int{d, d + m}
		p[pre+"norm.query_norm.scale"] = []int{hd}
		p[pre+"norm.key_norm.scale"] = []int{hd}
	}
	return p
}

// ParamNames returns the official weight names in sorted order.
func (c Config) ParamNames() []string {
	return slices.Sorted(maps.Keys(c.ParamShapes()))
}

// NumParams is the total number of weights.
func (c Config) NumParams() int64 {
	return tensorload.CountElements(c.ParamShapes())
}
