package bundle

import (
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/model/weights"
)

// BuiltinModel is one of Flora's built-in models, loaded by the model path
// "embedded:NAME". All share the embedded text encoder (a seeded tiny
// Qwen3 with the real Qwen3 tokenizer).
type BuiltinModel struct {
	// Name follows EmbeddedPrefix in the model path.
	Name string
	// About says what the model is for, for `flora model list`-like help.
	About string

	variant func() flux2.Variant
	// transformer and autoencoder build the weights; the string identifies
	// them (cache keys, adapter metadata).
	transformer func(b backends.Backend, v flux2.Variant, dtype dtypes.DType) (*flux2.Model, string, error)
	autoencoder func(b backends.Backend) (*vae.VAE, string, error)
}

// Variant is the built-in model's variant.
func (b BuiltinModel) Variant() flux2.Variant { return b.variant() }

// Seeds of the built-in models with random transformers.
const (
	tinySeed     = 20261124
	nanoInitSeed = 20261203
)

// BuiltinModels lists the built-in models.
func BuiltinModels() []BuiltinModel {
	return []BuiltinModel{
		{Name: "tiny", About: "the tiny FLUX.2 architecture with random (seeded) weights: tests and speed measurements",
			variant: EmbeddedTinyVariant, transformer: randomTransformer(tinySeed, false), autoencoder: analyticVAE},
		{Name: "nano", About: "the nano FLUX.2, pretrained by Flora on generated shapes (examples/nano-base): the demo's base",
			variant: EmbeddedNanoVariant, transformer: shippedTransformer, autoencoder: shippedVAE},
		{Name: "nano-init", About: "the nano architecture before pretraining (random transformer, analytic autoencoder): where examples/nano-base starts",
			variant: EmbeddedNanoVariant, transformer: randomTransformer(nanoInitSeed, true), autoencoder: analyticVAE},
	}
}

// findBuiltin returns the built-in model of a path ("embedded:tiny").
func findBuiltin(path string) (BuiltinModel, error) {
	name := strings.TrimPrefix(path, EmbeddedPrefix)
	var names []string
	for _, b := range BuiltinModels() {
		if b.Name == name {
			return b, nil
		}
		names = append(names, EmbeddedPrefix+b.Name)
	}
	return BuiltinModel{}, fmt.Errorf("unknown built-in model %q (available: %s)", path, strings.Join(names, ", "))
}

// EmbeddedNanoVariant describes the nano model: the tiny architecture
// without a guidance embedder, sampled with real classifier-free guidance
// (it is trained with caption dropout, not guidance-distilled).
func EmbeddedNanoVariant() flux2.Variant {
	cfg := EmbeddedTinyVariant().Config
	cfg.GuidanceEmbed = false
	return flux2.Variant{Name: "embedded-nano", Description: "Flora's embedded nano FLUX.2 (pretrained on generated shapes)", Config: cfg,
		DefaultSteps: 16, DefaultGuidance: 4, TextLayers: [3]int{1, 2, 3}, TextEncoder: "tiny-qwen3", ArchTag: "flux2_nano"}
}

// randomTransformer builds seeded random weights (flux2.RandomWeight);
// with adaLNZero the modulations and the final projection start at zero
// (DiT's adaLN-Zero: every block starts as the identity and the output at
// zero), the usual start for training from scratch.
func randomTransformer(seed uint64, adaLNZero bool) func(backends.Backend, flux2.Variant, dtypes.DType) (*flux2.Model, string, error) {
	return func(b backends.Backend, v flux2.Variant, dtype dtypes.DType) (*flux2.Model, string, error) {
		m, err := flux2.NewRandomModel(b, v.Config, seed, dtype)
		if err != nil {
			return nil, "", err
		}
		id := fmt.Sprintf("%s-%d", v.Name, seed)
		if !adaLNZero {
			return m, id, nil
		}
		for _, name := range v.Config.ParamNames() {
			if strings.Contains(name, "modulation") || name == "final_layer.linear.weight" {
				dims := v.Config.ParamShapes()[name]
				n := 1
				for _, d := range dims {
					n *= d
				}
				t, err := flux2.ConvertHost(tensors.FromFlatDataAndDimensions(make([]float32, n), dims...), dtype)
				if err != nil {
					return nil, "", err
				}
				if err := m.SetWeight(name, t); err != nil {
					return nil, "", err
				}
			}
		}
		return m, id + "-adaln-zero", nil
	}
}

// analyticVAE is the hand-set near-identity autoencoder (vae.NewAnalytic).
func analyticVAE(b backends.Backend) (*vae.VAE, string, error) {
	ae, err := vae.NewAnalytic(b, EmbeddedTinyVAEConfig(), vae.Options{})
	return ae, "embedded-tiny-analytic-vae", err
}

//go:embed assets/nano
var nanoAssets embed.FS

// Files of the pretrained nano model in nanoAssets.
const (
	nanoTransformerFile = "assets/nano/transformer.safetensors"
	nanoVAEFile         = "assets/nano/vae.safetensors"
)

// nanoFile opens one of the shipped nano weight files and returns its
// content fingerprint.
func nanoFile(name string) (*weights.File, string, error) {
	raw, err := nanoAssets.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("this build has no pretrained nano weights (%s): examples/nano-base/README.md makes them", name)
	}
	if err != nil {
		return nil, "", err
	}
	f, err := weights.FromBytes("embedded:nano "+name, raw)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw)
	return f, fmt.Sprintf("%x", sum[:8]), nil
}

// shippedTransformer loads the pretrained nano transformer.
func shippedTransformer(b backends.Backend, v flux2.Variant, dtype dtypes.DType) (*flux2.Model, string, error) {
	f, sum, err := nanoFile(nanoTransformerFile)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	cfg := v.Config
	m, err := flux2.LoadFrom(b, f, EmbeddedPrefix+"nano", flux2.LoadOptions{DType: dtype, Config: &cfg})
	return m, "embedded-nano@" + sum, err
}

// shippedVAE loads the pretrained nano autoencoder.
func shippedVAE(b backends.Backend) (*vae.VAE, string, error) {
	f, sum, err := nanoFile(nanoVAEFile)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	cfg := EmbeddedTinyVAEConfig()
	ae, err := vae.Load(b, f, EmbeddedPrefix+"nano", vae.Options{Config: &cfg})
	return ae, "embedded-nano-vae@" + sum, err
}

// isBuiltinVariant reports whether v is a built-in model's variant.
func isBuiltinVariant(v flux2.Variant) bool {
	for _, b := range BuiltinModels() {
		if b.variant().Name == v.Name {
			return true
		}
	}
	return false
}
