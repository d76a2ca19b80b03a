package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/model/flux2"
)

// diffusersMergeFolder prepares a diffusers folder for a merged transformer
// of the diffusers base: OUT/transformer/ when the base is a model folder
// with a transformer/ subfolder, else OUT/ itself, holding a copy of the
// base's config.json. It returns the weights file path to write.
func diffusersMergeFolder(base, out string) (string, error) {
	ckpt, configDir, err := flux2.ResolveTransformerPath(base)
	if err != nil {
		return "", err
	}
	dir := out
	if st, err := os.Stat(filepath.Join(base, "transformer")); err == nil && st.IsDir() {
		dir = filepath.Join(out, "transformer")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the merged model folder: %w", err)
	}
	if configDir == "" {
		return "", fmt.Errorf("%s has no config.json to copy; write the merged weights to a .safetensors file instead", ckpt)
	}
	cfg, err := os.ReadFile(filepath.Join(configDir, "config.json"))
	if err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "config.json"), cfg); err != nil {
		return "", err
	}
	return filepath.Join(dir, "diffusion_pytorch_model.safetensors"), nil
}
