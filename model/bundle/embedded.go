package bundle

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/tensorload"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/model/textenc/tokenizer"
	"github.com/flora-ml/flora/model/vae"
)

// EmbeddedPrefix marks built-in models in model paths ("embedded:tiny").
const EmbeddedPrefix = "embedded:"

// IsEmbedded reports whether a model path names a built-in model.
func IsEmbedded(path string) bool { return strings.HasPrefix(path, EmbeddedPrefix) }

//go:embed assets/qwen3-tokenizer.json
var qwen3TokenizerJSON []byte

// Components are the loaded parts of a model.
type Components struct {
	Name        string
	Variant     flux2.Variant
	Transformer *flux2.Model
	VAE         *vae.VAE
	Text        *textenc.PromptEncoder
	// TransformerID and VAEID identify the weights (content fingerprints),
	// for adapter metadata and cache keys.
	TransformerID, VAEID string
}

// EmbeddedTinyVariant describes Flora's built-in demo model: the real FLUX.2
// architectures (transformer, autoencoder, Qwen3 text encoder with the real
// Qwen3 tokenizer) at toy size, so `flora train` runs on any machine with no
// download. Its weights are generated: the transformer and text encoder are
// random (seeded), the autoencoder is NewAnalytic's hand-set near-identity.
func EmbeddedTinyVariant() flux2.Variant {
	cfg := flux2.TinyConfig()
	cfg.ContextDim = 3 * tinyText().Hidden
	return flux2.Variant{Name: "embedded-tiny", Description: "Flora's embedded tiny FLUX.2 (demo)", Config: cfg, Distilled: true,
		DefaultSteps: 8, DefaultGuidance: 3.5, TextLayers: [3]int{1, 2, 3}, TextEncoder: "tiny-qwen3", ArchTag: "flux2_tiny"}
}

func tinyText() textenc.Config {
	return textenc.Config{Family: textenc.FamilyQwen3, VocabSize: 151936, Hidden: 16, NumLayers: 3, NumHeads: 2, NumKVHeads: 1, HeadDim: 8,
		Intermediate: 32, RMSNormEps: 1e-6, RopeTheta: 1e6, QKNorm: true, TieEmbeddings: true, MaxPositions: 4096}
}

// EmbeddedTinyVAEConfig is the demo autoencoder: 2 downsamplings and a 2×2
// patch, so a 128×128 image is 16×16 latent tokens of 16 channels.
func EmbeddedTinyVAEConfig() vae.Config {
	c := vae.OfficialTinyConfig()
	c.ChMult = []int{1, 1, 2}
	c.Groups = 1
	return c
}

// embeddedTextLength is the demo's padded prompt length (the published
// pipelines use 512; the demo's captions are short).
const embeddedTextLength = 32

// LoadEmbedded builds a built-in model (embedded:tiny, embedded:nano,
// embedded:nano-init; see BuiltinModels).
func LoadEmbedded(backend backends.Backend, path string, dtype dtypes.DType, textQuant quant.Scheme) (*Components, error) {
	b, err := findBuiltin(path)
	if err != nil {
		return nil, err
	}
	v := b.variant()
	m, transformerID, err := b.transformer(backend, v, dtype)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Variant = v
	ae, vaeID, err := b.autoencoder(backend)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	text, err := embeddedPromptEncoder(backend, textQuant)
	if err != nil {
		return nil, err
	}
	return &Components{Name: path, Variant: v, Transformer: m, VAE: ae, Text: text, TransformerID: transformerID, VAEID: vaeID}, nil
}

// embeddedPromptEncoder is the built-in models' text encoder: the seeded
// tiny Qwen3 with the real Qwen3 tokenizer.
func embeddedPromptEncoder(backend backends.Backend, textQuant quant.Scheme) (*textenc.PromptEncoder, error) {
	spec := embeddedTextSpec()
	enc, err := textenc.Load(backend, embeddedTextWeights(), spec.Name, spec, textenc.LoadOptions{DType: dtypes.Float32, Quantize: textQuant})
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.ParseHF(qwen3TokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("embedded tokenizer: %w", err)
	}
	return &textenc.PromptEncoder{Encoder: enc, Tokenizer: tok, Template: textenc.TemplateFor(textenc.FamilyQwen3),
		MaxLen: embeddedTextLength, TokenizerID: "embedded-qwen3"}, nil
}

// embeddedTextSpec is how the demo model uses its text encoder: the
// variant's hidden states, right padding, embeddedTextLength tokens.
func embeddedTextSpec() textenc.Spec {
	layers := EmbeddedTinyVariant().TextLayers // every built-in model's
	return textenc.Spec{Name: "embedded-tiny-qwen3", Config: tinyText(), Layers: layers[:],
		PadSide: textenc.PadRight, MaxLength: embeddedTextLength}
}

// embeddedTextWeights are the demo text encoder's weights (Qwen3 names).
func embeddedTextWeights() tensorload.MapSource { return randomTextWeights(tinyText(), 7) }

// ownVariant names an architecture Flora defines itself: a custom
// architecture equal to a built-in model's is that model (an exported
// embedded:tiny, `flora model export`, or a model trained from
// embedded:nano-init), so it samples and encodes prompts as the built-in
// does. Other variants pass unchanged.
func ownVariant(v flux2.Variant) flux2.Variant {
	if v.Name != flux2.CustomVariantName {
		return v
	}
	for _, b := range BuiltinModels() {
		if own := b.variant(); v.Config == own.Config {
			return own
		}
	}
	return v
}

// randomTextWeights generates a Qwen3 checkpoint: N(0, 1/in) matrices,
// embeddings N(0, 1), norms 1 + N(0, 0.1²).
func randomTextWeights(cfg textenc.Config, seed uint64) tensorload.MapSource {
	rng := rand.New(rand.NewPCG(seed, 3))
	src := tensorload.MapSource{}
	add := func(name string, dims ...int) {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			switch {
			case len(dims) == 1:
				v[i] = float32(1 + 0.1*rng.NormFloat64())
			case strings.Contains(name, "embed"):
				v[i] = float32(rng.NormFloat64())
			default:
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(dims[1])))
			}
		}
		src[name] = tensors.FromFlatDataAndDimensions(v, dims...)
	}
	d, hd := cfg.Hidden, cfg.HeadDim
	add("model.embed_tokens.weight", cfg.VocabSize, d)
	for i := 0; i < cfg.NumLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", d)
		add(p+"post_attention_layernorm.weight", d)
		add(p+"self_attn.q_proj.weight", cfg.NumHeads*hd, d)
		add(p+"self_attn.k_proj.weight", cfg.NumKVHeads*hd, d)
		add(p+"self_attn.v_proj.weight", cfg.NumKVHeads*hd, d)
		add(p+"self_attn.o_proj.weight", d, cfg.NumHeads*hd)
		add(p+"self_attn.q_norm.weight", hd)
		add(p+"self_attn.k_norm.weight", hd)
		add(p+"mlp.gate_proj.weight", cfg.Intermediate, d)
		add(p+"mlp.up_proj.weight", cfg.Intermediate, d)
		add(p+"mlp.down_proj.weight", d, cfg.Intermediate)
	}
	add("model.norm.weight", d)
	return src
}
