package bundle

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/model/weights"
)

// Options say which model to load and how.
type Options struct {
	// Path is the model: embedded:tiny, an official transformer file, or a
	// diffusers model folder.
	Path string
	// VAE and TextEncoder override the component locations.
	VAE, TextEncoder string
	// Variant is the FLUX.2 variant name, or "auto"/"" to resolve it from
	// the checkpoint (flux2.ResolveVariant: shapes, then the file name for
	// klein base vs distilled).
	Variant string
	// DType is the compute/storage dtype of the transformer weights.
	DType dtypes.DType
	// Quant quantizes the transformer's frozen weights while loading.
	Quant quant.Options
	// TextQuant quantizes the text encoder's decoder layers (none, int8,
	// fp8, nf4): Mistral Small 3.1 needs int8 or NF4 on a 24 GB card.
	TextQuant quant.Scheme
	// SkipVAE, SkipText and SkipTransformer leave those components
	// unloaded. Without the transformer the variant (which picks the text
	// encoder's layers) is read from the checkpoint's header: caching
	// captions and latents first and loading the transformer afterwards
	// keeps the encoders and the transformer from sharing memory.
	SkipVAE, SkipText, SkipTransformer bool
	// VAESetting and TextEncoderSetting name where the user gives the
	// autoencoder and text-encoder paths, for messages when they cannot be
	// found: a flag ("--vae") or a job key; empty means the job keys
	// model.vae and model.text_encoder.
	VAESetting, TextEncoderSetting string
}

// fixFor says how to give a path through setting (a flag or a job key).
func fixFor(setting, def, what string) string {
	if setting == "" {
		setting = def
	}
	if strings.HasPrefix(setting, "-") {
		return "give " + setting + " " + what
	}
	return "set " + setting
}

// CheckVariant refuses a variant name Flora does not know, and for a
// built-in model any variant other than its own; "" and "auto" pass. Load
// calls it before anything loads; commands call it to refuse a bad flag
// before any other work.
func CheckVariant(path, variant string) error {
	if variant == "" || variant == flux2.VariantAuto {
		return nil
	}
	if IsEmbedded(path) {
		b, err := findBuiltin(path)
		if err != nil {
			return err
		}
		if own := b.variant().Name; variant != own {
			return fmt.Errorf("variant %q does not apply to %s, which is the %s model; use auto (or %s)", variant, path, own, own)
		}
		return nil
	}
	_, err := flux2.VariantByName(variant)
	return err
}

// Load loads the components of a model.
func Load(backend backends.Backend, opts Options) (*Components, error) {
	if err := CheckVariant(opts.Path, opts.Variant); err != nil {
		return nil, err
	}
	if IsEmbedded(opts.Path) {
		c, err := LoadEmbedded(backend, opts.Path, dtypeOr(opts.DType), opts.TextQuant)
		if err != nil {
			return nil, err
		}
		if opts.Quant.Scheme != "" && opts.Quant.Scheme != quant.None {
			return nil, errors.New("quantization of the built-in models is not supported (they are tiny)")
		}
		if opts.VAE != "" { // e.g. an autoencoder trained for a built-in model
			if c.VAE, err = LoadVAE(backend, opts.VAE, vae.Options{}); err != nil {
				return nil, err
			}
			c.VAEID = "vae@" + fingerprint(opts.VAE)
		}
		return c, nil
	}
	paths, err := Resolve(opts.Path, opts.VAE, opts.TextEncoder)
	if err != nil {
		return nil, err
	}
	lo := flux2.LoadOptions{DType: opts.DType}
	if opts.Variant != "" && opts.Variant != flux2.VariantAuto {
		lo.Variant = opts.Variant
	}
	if opts.Quant.Scheme != "" && opts.Quant.Scheme != quant.None {
		lo.Store = quant.Store(opts.Quant)
	}
	c := &Components{Name: opts.Path}
	if opts.SkipTransformer {
		if c.Variant, err = InspectVariant(paths.Transformer, opts.Variant); err != nil {
			return nil, err
		}
	} else {
		m, err := loadTransformer(backend, paths.Transformer, lo)
		if err != nil {
			return nil, err
		}
		m.Variant = ownVariant(m.Variant)
		c.Transformer, c.Variant = m, m.Variant
	}
	if ckpt, _, err := flux2.ResolveTransformerPath(paths.Transformer); err == nil {
		c.TransformerID = fingerprint(ckpt)
	}
	if !opts.SkipVAE {
		if paths.VAE == "" {
			return nil, fmt.Errorf("no autoencoder found next to %s: %s (official ae.safetensors or a diffusers vae/ folder)",
				opts.Path, fixFor(opts.VAESetting, "model.vae", "FILE"))
		}
		if c.VAE, err = LoadVAE(backend, paths.VAE, vae.Options{}); err != nil {
			return nil, err
		}
		c.VAEID = "vae@" + fingerprint(paths.VAE)
	}
	if !opts.SkipText && (paths.TextEncoder == "" || paths.Tokenizer == "") && isBuiltinVariant(c.Variant) {
		// A model trained from a built-in one (adapter.type full) carries
		// no text encoder: it uses the built-in models' own.
		if c.Text, err = embeddedPromptEncoder(backend, opts.TextQuant); err != nil {
			return nil, err
		}
	} else if !opts.SkipText {
		if paths.TextEncoder == "" || paths.Tokenizer == "" {
			return nil, fmt.Errorf("no text encoder found next to %s: %s (a folder with config.json and weights, and tokenizer.json or a sibling tokenizer/ folder)",
				opts.Path, fixFor(opts.TextEncoderSetting, "model.text_encoder", "FOLDER"))
		}
		if c.Text, err = loadText(backend, paths, c.Variant, dtypeOr(opts.DType), opts.TextQuant); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func dtypeOr(d dtypes.DType) dtypes.DType {
	if d == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return d
}

// fingerprint is the content fingerprint of a checkpoint path ("" if it
// cannot be read).
func fingerprint(path string) string {
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		return ""
	}
	defer ck.Close()
	return ck.Fingerprint()
}

// InspectVariant resolves the variant of a model path (embedded:tiny, a
// float, Flora-quantized or ComfyUI fp8 transformer checkpoint, or a
// diffusers folder) from headers only, exactly as Load resolves it
// (flux2.ResolveVariant): the memory plan, caption caching and loading all
// name the same variant. variant is the requested name, or "" / "auto".
func InspectVariant(path, variant string) (flux2.Variant, error) {
	if err := CheckVariant(path, variant); err != nil {
		return flux2.Variant{}, err
	}
	if IsEmbedded(path) {
		b, err := findBuiltin(path)
		return b.variant(), err
	}
	ckpt, _, err := flux2.ResolveTransformerPath(path)
	if err != nil {
		return flux2.Variant{}, err
	}
	ck, err := weights.OpenCheckpoint(ckpt)
	if err != nil {
		return flux2.Variant{}, err
	}
	defer ck.Close()
	if v, ok, err := quant.CheckpointVariant(ck, variant, ckpt); err != nil || ok {
		return ownVariant(v), err
	}
	v, err := flux2.InspectCheckpoint(path, variant)
	return ownVariant(v), err
}

// loadText loads the variant's text encoder from the resolved folders; a
// built-in model's (an exported embedded:tiny) uses its own spec.
func loadText(backend backends.Backend, paths Paths, v flux2.Variant, dtype dtypes.DType, q quant.Scheme) (*textenc.PromptEncoder, error) {
	if isBuiltinVariant(v) {
		return textenc.LoadPromptEncoderSpec(backend, paths.TextEncoder, paths.Tokenizer, v.Description, embeddedTextSpec(), dtype, q)
	}
	return textenc.LoadPromptEncoder(backend, paths.TextEncoder, paths.Tokenizer, v.Name, dtype, q)
}

// loadTransformer loads a float checkpoint (quantizing it while it streams
// when asked) or a checkpoint stored quantized (Flora's quantized format,
// ComfyUI fp8).
func loadTransformer(backend backends.Backend, path string, lo flux2.LoadOptions) (*flux2.Model, error) {
	ckpt, _, err := flux2.ResolveTransformerPath(path)
	if err != nil {
		return nil, err
	}
	if ck, err := weights.OpenCheckpoint(ckpt); err == nil {
		quantized := quant.IsQuantizedCheckpoint(ck)
		if quantized {
			defer ck.Close()
			return quant.Load(backend, ck, ckpt, lo.Variant, lo.DType)
		}
		ck.Close()
	}
	return flux2.Load(backend, path, lo)
}
