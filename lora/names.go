package lora

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/flora-ml/flora/model/flux2"
)

// diffusersPart is one diffusers module that stores rows of an official
// layer: diffusers splits the fused q/k/v of double blocks into three.
type diffusersPart struct {
	Module    string // diffusers module path, e.g. transformer_blocks.0.attn.to_q
	RowOffset int    // first row of the official layer it holds
	Rows      int
	// SwapHalves: the diffusers layer stores the official rows with their
	// two halves exchanged (final layer adaLN: (scale, shift) vs (shift, scale)).
	SwapHalves bool
}

// diffusersParts maps an official module (with out rows) to its diffusers
// modules.
func diffusersParts(module string, out int) ([]diffusersPart, error) {
	src, err := flux2.DiffusersSource(module + ".weight")
	if err != nil {
		return nil, err
	}
	rows := out / len(src.Parts)
	parts := make([]diffusersPart, len(src.Parts))
	for i, p := range src.Parts {
		parts[i] = diffusersPart{Module: strings.TrimSuffix(p, ".weight"), RowOffset: i * rows, Rows: rows, SwapHalves: src.SwapHalves}
	}
	return parts, nil
}

// kohyaName is the kohya/musubi key stem of an official module.
func kohyaName(module string) string { return "lora_unet_" + strings.ReplaceAll(module, ".", "_") }

// moduleIndex resolves names of other layouts back to official modules for
// an architecture.
type moduleIndex struct {
	cfg       flux2.Config
	layers    map[string]Layer
	kohya     map[string]string       // kohya stem → official module
	diffusers map[string]diffusersRef // diffusers module → official module + rows
}

type diffusersRef struct {
	Module string
	Part   diffusersPart
}

func newModuleIndex(cfg flux2.Config) (*moduleIndex, error) {
	layers, _ := Layers(cfg)
	idx := &moduleIndex{cfg: cfg, layers: map[string]Layer{}, kohya: map[string]string{}, diffusers: map[string]diffusersRef{}}
	for _, l := range layers {
		idx.layers[l.Module] = l
		idx.kohya[kohyaName(l.Module)] = l.Module
		parts, err := diffusersParts(l.Module, l.Out)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			idx.diffusers[p.Module] = diffusersRef{Module: l.Module, Part: p}
		}
	}
	return idx, nil
}

// reMusubiAttn matches the broken names musubi-tuner's converter writes
// (img_attn_proj for img_attn.proj).
var reMusubiAttn = regexp.MustCompile(`(img|txt)_attn_(qkv|proj)$`)

// fixOfficial returns the official module for a module path from a
// ComfyUI-style file, repairing known broken spellings (with a warning):
// musubi-tuner's converter writes img_attn_proj for img_attn.proj, and more
// generally a name whose dots and underscores are mixed up is matched to the
// one official module it spells (FLUX.2 module paths stay distinct when '.'
// and '_' are identified).
func (idx *moduleIndex) fixOfficial(module string) (string, string, error) {
	if _, ok := idx.layers[module]; ok {
		return module, "", nil
	}
	if fixed := reMusubiAttn.ReplaceAllString(module, "${1}_attn.${2}"); fixed != module {
		if _, ok := idx.layers[fixed]; ok {
			return fixed, fmt.Sprintf("%s is a known broken name (musubi-tuner's converter); read as %s", module, fixed), nil
		}
	}
	if fixed, ok := idx.kohya[kohyaName(module)]; ok {
		return fixed, fmt.Sprintf("%s is not an official module path ('.' and '_' mixed up); read as %s", module, fixed), nil
	}
	return "", "", fmt.Errorf("%s is not a linear layer of this FLUX.2 architecture", module)
}
