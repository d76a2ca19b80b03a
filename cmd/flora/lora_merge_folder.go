package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	cfg, err := fsutil.ReadFileLimited(filepath.Join(configDir, "config.json"), fsutil.MaxConfigJSONBytes, "a config.json")
	if err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "config.json"), cfg); err != nil {
		return "", err
	}
	return filepath.Join(dir, "diffusion_pytorch_model.safetensors"), nil
}

// checkMergeOutput refuses a merge output that is one of the merge's inputs
// — the base model, its weight files, its config folder, an adapter — or,
// for an output folder, whose weights or config.json would land on one:
// writing there would replace the input.
func checkMergeOutput(base, out string, loras []loraSpec) error {
	inputs := modelInputs(base)
	for _, spec := range loras {
		inputs = append(inputs, spec.Path)
	}
	outs := []string{out}
	if !strings.HasSuffix(out, ".safetensors") {
		for _, dir := range []string{out, filepath.Join(out, "transformer")} {
			outs = append(outs, filepath.Join(dir, "diffusion_pytorch_model.safetensors"), filepath.Join(dir, "config.json"))
		}
	}
	for _, o := range outs {
		if err := fsutil.CheckOutput(o, inputs...); err != nil {
			return usageErrorf("--out %v", err)
		}
	}
	return nil
}
