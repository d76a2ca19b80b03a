// Package bundle finds and loads the three parts of a FLUX.2 model — the
// transformer, the autoencoder and the text encoder with its tokenizer —
// from the layouts users have: a diffusers model folder (transformer/, vae/,
// text_encoder/, tokenizer/) or Black Forest Labs' single files
// (flux2-dev.safetensors next to ae.safetensors) with a separate text
// encoder folder.
package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/model/weights"

	"github.com/flora-ml/flora/internal/fsutil"
)

// Paths are the component locations of a model.
type Paths struct {
	Transformer string
	VAE         string
	TextEncoder string
	Tokenizer   string
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Resolve finds the components of model (a diffusers folder or an official
// transformer file); explicit vaePath / textEncoderPath override. Components
// that cannot be found stay empty (callers report what they need).
func Resolve(model, vaePath, textEncoderPath string) (Paths, error) {
	var p Paths
	if model == "" {
		return p, fmt.Errorf("no model path given")
	}
	if _, err := fsutil.Stat(model); err != nil {
		return p, fmt.Errorf("model path: %w", err) // "does not exist", "symbolic link loop", ...
	}
	p.Transformer = model
	root := model
	if !isDir(model) {
		root = filepath.Dir(model)
	}
	switch {
	case vaePath != "":
		p.VAE = vaePath
	case isDir(filepath.Join(root, "vae")):
		p.VAE = filepath.Join(root, "vae")
	case exists(filepath.Join(root, "ae.safetensors")):
		p.VAE = filepath.Join(root, "ae.safetensors")
	}
	switch {
	case textEncoderPath != "":
		p.TextEncoder = textEncoderPath
	case isDir(filepath.Join(root, "text_encoder")):
		p.TextEncoder = filepath.Join(root, "text_encoder")
	}
	switch {
	case p.TextEncoder != "" && exists(filepath.Join(p.TextEncoder, "tokenizer.json")):
		p.Tokenizer = p.TextEncoder
	case isDir(filepath.Join(root, "tokenizer")):
		p.Tokenizer = filepath.Join(root, "tokenizer")
	case p.TextEncoder != "" && isDir(filepath.Join(filepath.Dir(p.TextEncoder), "tokenizer")):
		p.Tokenizer = filepath.Join(filepath.Dir(p.TextEncoder), "tokenizer")
	}
	return p, nil
}

// LoadVAE loads an autoencoder from a file (official ae.safetensors or a
// diffusers file) or a diffusers vae/ folder, whose config.json fixes the
// architecture (for a file: its VAEConfigKey metadata, when present).
func LoadVAE(backend backends.Backend, path string, opts vae.Options) (*vae.VAE, error) {
	if path == "" {
		return nil, fmt.Errorf("no VAE found: pass its path (official ae.safetensors or a diffusers vae/ folder)")
	}
	if isDir(path) && opts.Config == nil {
		data, err := fsutil.ReadFileLimited(filepath.Join(path, "config.json"), fsutil.MaxConfigJSONBytes, "a config.json")
		switch {
		case err == nil:
			cfg, err := vae.ParseDiffusersConfig(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(path, "config.json"), err)
			}
			opts.Config = &cfg
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("VAE config: %w", err)
		}
	}
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	if js, ok := ck.Metadata()[VAEConfigKey]; ok && opts.Config == nil {
		cfg, err := vae.ParseDiffusersConfig([]byte(js))
		if err != nil {
			return nil, fmt.Errorf("%s: metadata %s: %w", path, VAEConfigKey, err)
		}
		opts.Config = &cfg
	}
	return vae.Load(backend, ck, path, opts)
}

// VAEConfigKey is the safetensors metadata key under which Flora stores an
// official-layout autoencoder file's architecture (its diffusers config.json)
// when the shapes do not tell it (a GroupNorm group count other than 32, as
// in an exported embedded:tiny); LoadVAE reads it.
const VAEConfigKey = "flora.vae_config"
