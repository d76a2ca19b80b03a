// Package lora is Flora's LoRA adapter support for the FLUX.2 transformer:
// which layers get adapters (presets, patterns, per-pattern rank/alpha),
// injection into a model as trainable variables, run-time application of one
// or several adapters with scales, merging into the base weights, and the
// file formats the ecosystem uses (ComfyUI / official names, diffusers/PEFT
// names, kohya names).
//
// A LoRA on a linear layer W [out, in] is y = W·x + (alpha/rank)·B·(A·x) with
// A (down) [rank, in] and B (up) [out, rank]. Flora trains on the official
// module layout, where q/k/v (and, in single blocks, the MLP input) are fused
// in one layer; conversion to layouts that split them is exact.
package lora

import (
	"fmt"
	"path"
	"sort"
	"strconv"

	"github.com/flora-ml/flora/model/flux2"
)

// Target presets.
const (
	// PresetBlocks targets every linear layer inside the double and single
	// blocks (8 per double block in the fused official layout — 12 in
	// diffusers' split layout — and linear1/linear2 per single block): what
	// ai-toolkit and musubi-tuner train.
	PresetBlocks = "blocks"
	// PresetAttention targets the attention layers: qkv and proj of both
	// streams in double blocks, and the fused linear1/linear2 of single blocks
	// (which carry their attention).
	PresetAttention = "attention"
	// PresetAttentionMLP is attention plus the double-block MLPs; in FLUX.2
	// this is the same set as blocks.
	PresetAttentionMLP = "attention+mlp"
	// PresetAll adds the shared modulation layers, the embedders and the
	// final layer to blocks.
	PresetAll = "all"
)

// Presets lists the target presets.
var Presets = []string{PresetBlocks, PresetAttention, PresetAttentionMLP, PresetAll}

// Layer is one linear layer of the transformer that can carry an adapter.
type Layer struct {
	// Module is the official module path, e.g. "double_blocks.0.img_attn.qkv".
	Module string
	// In and Out are the layer's input and output widths.
	In, Out int
}

// Layers returns every linear layer of the architecture with its preset
// group: "attention", "mlp" (inside blocks) or "global" (outside blocks).
func Layers(cfg flux2.Config) (layers []Layer, group map[string]string) {
	shapes := cfg.ParamShapes()
	group = map[string]string{}
	for name, s := range shapes {
		if len(s) != 2 || path.Ext(name) != ".weight" {
			continue
		}
		module := name[:len(name)-len(".weight")]
		layers = append(layers, Layer{Module: module, In: s[1], Out: s[0]})
		group[module] = layerGroup(module)
	}
	sort.Slice(layers, func(i, j int) bool { return moduleLess(layers[i].Module, layers[j].Module) })
	return layers, group
}

func layerGroup(module string) string {
	for _, p := range []string{"double_blocks.*.img_attn.*", "double_blocks.*.txt_attn.*", "single_blocks.*.linear1", "single_blocks.*.linear2"} {
		if ok, _ := path.Match(p, module); ok {
			return "attention"
		}
	}
	for _, p := range []string{"double_blocks.*.img_mlp.*", "double_blocks.*.txt_mlp.*"} {
		if ok, _ := path.Match(p, module); ok {
			return "mlp"
		}
	}
	return "global"
}

// moduleLess orders module paths with numeric block indices compared as
// numbers (double_blocks.2 before double_blocks.10).
func moduleLess(a, b string) bool {
	sa, sb := splitPath(a), splitPath(b)
	for i := 0; i < len(sa) && i < len(sb); i++ {
		if sa[i] == sb[i] {
			continue
		}
		na, ea := strconv.Atoi(sa[i])
		nb, eb := strconv.Atoi(sb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return sa[i] < sb[i]
	}
	return len(sa) < len(sb)
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// Override sets rank and alpha for the layers matching Pattern.
type Override struct {
	Pattern string
	Rank    int
	Alpha   float64
}

// Spec selects the adapted layers and their ranks.
type Spec struct {
	// Preset is one of Presets.
	Preset string
	// Rank and Alpha are the defaults (Alpha 0 means alpha = rank).
	Rank  int
	Alpha float64
	// Include keeps only layers matching one of these patterns (path.Match
	// syntax on module paths; `*` also crosses dots), when non-empty.
	Include []string
	// Exclude drops layers matching any of these patterns.
	Exclude []string
	// Overrides set rank/alpha per pattern; the first match wins.
	Overrides []Override
}

// Target is one adapted layer with its rank and alpha.
type Target struct {
	Layer
	Rank  int
	Alpha float64
}

// Plan returns the adapted layers of an architecture for a spec, in module
// order. It fails when the spec is invalid or selects nothing.
func (s Spec) Plan(cfg flux2.Config) ([]Target, error) {
	if s.Rank < 1 {
		return nil, fmt.Errorf("lora rank must be >= 1, got %d", s.Rank)
	}
	layers, group := Layers(cfg)
	keep := func(m string) (bool, error) {
		g := group[m]
		switch s.Preset {
		case PresetBlocks, PresetAttentionMLP:
			if g == "global" {
				return false, nil
			}
		case PresetAttention:
			if g != "attention" {
				return false, nil
			}
		case PresetAll:
		default:
			return false, fmt.Errorf("unknown lora target preset %q (known: blocks, attention, attention+mlp, all)", s.Preset)
		}
		if len(s.Include) > 0 {
			ok, err := matchAny(s.Include, m)
			if err != nil || !ok {
				return false, err
			}
		}
		ex, err := matchAny(s.Exclude, m)
		return !ex, err
	}
	var out []Target
	for _, l := range layers {
		ok, err := keep(l.Module)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		t := Target{Layer: l, Rank: s.Rank, Alpha: s.Alpha}
		for _, o := range s.Overrides {
			m, err := matchPattern(o.Pattern, l.Module)
			if err != nil {
				return nil, err
			}
			if m {
				t.Rank, t.Alpha = o.Rank, o.Alpha
				break
			}
		}
		if t.Alpha == 0 {
			t.Alpha = float64(t.Rank)
		}
		if t.Rank < 1 || t.Rank > min(l.In, l.Out) {
			return nil, fmt.Errorf("lora rank %d for %s must be in [1, %d]", t.Rank, l.Module, min(l.In, l.Out))
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lora targets select no layer (preset %q, include %q, exclude %q)", s.Preset, s.Include, s.Exclude)
	}
	return out, nil
}

func matchAny(patterns []string, module string) (bool, error) {
	for _, p := range patterns {
		ok, err := matchPattern(p, module)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// matchPattern matches a module path against a path.Match pattern; module
// paths use dots, so `*` spans dots as users expect (single_blocks.*).
func matchPattern(pattern, module string) (bool, error) {
	ok, err := path.Match(pattern, module)
	if err != nil {
		return false, fmt.Errorf("bad lora pattern %q: %w", pattern, err)
	}
	return ok, nil
}
