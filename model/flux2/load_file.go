package flux2

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"github.com/flora-ml/flora/model/weights"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/tensorload"
)

// ResolveTransformerPath finds the transformer checkpoint of a model path:
// an official single file (flux2-dev.safetensors), a diffusers model folder
// (its transformer/ subfolder), a diffusers transformer folder, or a
// *.safetensors.index.json. It also returns the folder holding a diffusers
// config.json, if any.
func ResolveTransformerPath(path string) (ckpt, configDir string, err error) {
	st, err := fsutil.Stat(path)
	if err != nil {
		return "", "", fmt.Errorf("model path: %w", err)
	}
	if !st.IsDir() {
		return path, "", nil
	}
	if sub := filepath.Join(path, "transformer"); isDir(sub) {
		path = sub
	}
	if _, err := os.Stat(filepath.Join(path, "config.json")); err == nil {
		configDir = path
	}
	// A folder with a single official file (e.g. the BFL repo layout).
	files, _ := filepath.Glob(filepath.Join(path, "*.safetensors"))
	if len(files) == 0 {
		return "", "", fmt.Errorf("%s holds no .safetensors file (expected flux2-*.safetensors, or a diffusers transformer/ folder)", path)
	}
	return path, configDir, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Load reads a FLUX.2 transformer from a model path in either layout (see
// ResolveTransformerPath), streaming one tensor at a time from the
// memory-mapped files. A diffusers config.json, when present, fixes the
// architecture (RoPE axes and theta are not visible in the weights) and is
// checked against the tensor shapes.
func Load(backend backends.Backend, path string, opts LoadOptions) (*Model, error) {
	ckptPath, configDir, err := ResolveTransformerPath(path)
	if err != nil {
		return nil, err
	}
	ck, err := weights.OpenCheckpoint(ckptPath)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	if configDir != "" && opts.Config == nil {
		cfg, err := readDiffusersConfig(configDir)
		if err != nil {
			return nil, err
		}
		layout, err := DetectLayout(ck.Names())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ckptPath, err)
		}
		inferred, err := InferConfig(ck, layout)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ckptPath, err)
		}
		if inferred.Hidden != cfg.Hidden || inferred.Depth != cfg.Depth || inferred.DepthSingle != cfg.DepthSingle ||
			inferred.ContextDim != cfg.ContextDim || inferred.InChannels != cfg.InChannels || inferred.GuidanceEmbed != cfg.GuidanceEmbed {
			return nil, fmt.Errorf("%s: config.json (%+v) does not match the weights (%+v)", configDir, *cfg, inferred)
		}
		opts.Config = cfg
	}
	return LoadFrom(backend, ck, ckptPath, opts)
}

// InspectCheckpoint returns a transformer checkpoint's variant (as Load
// resolves it: ResolveVariant) from its header and config.json, without
// reading any weights — for commands that need only the variant (the memory
// plan, caching captions, picking the text encoder). variant, when set (not
// "" or "auto"), must match.
func InspectCheckpoint(path, variant string) (Variant, error) {
	ckptPath, configDir, err := ResolveTransformerPath(path)
	if err != nil {
		return Variant{}, err
	}
	ck, err := weights.OpenCheckpoint(ckptPath)
	if err != nil {
		return Variant{}, err
	}
	defer ck.Close()
	var cfg Config
	if configDir != "" {
		c, err := readDiffusersConfig(configDir)
		if err != nil {
			return Variant{}, err
		}
		cfg = *c
	} else {
		if _, cfg, err = tensorload.LayoutAndConfig(TensorSource(ck), ckptPath, layoutRule, nil, InferConfig); err != nil {
			return Variant{}, err
		}
	}
	return ResolveVariant(cfg, variant, ckptPath)
}
