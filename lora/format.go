package lora

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// Format is a LoRA file naming scheme.
type Format string

// The formats Flora reads and writes.
const (
	// FormatComfy: official module paths under "diffusion_model.", with
	// lora_A/lora_B/alpha — what ComfyUI loads for FLUX.2 (and what
	// ai-toolkit writes, without alpha).
	FormatComfy Format = "comfy"
	// FormatDiffusers: diffusers/PEFT names under "transformer." with the
	// PEFT config in the lora_adapter_metadata header — what
	// Flux2Pipeline.load_lora_weights reads.
	FormatDiffusers Format = "diffusers"
	// FormatKohya: kohya/musubi "lora_unet_…" names with lora_down/lora_up/alpha.
	FormatKohya Format = "kohya"
)

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatComfy, FormatDiffusers, FormatKohya:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown LoRA format %q (comfy, diffusers, kohya)", s)
}

// loraTensor is one parsed down/up/alpha entry.
type loraEntry struct {
	down, up *tensors.Tensor
	alpha    *float64
}

var (
	reComfy     = regexp.MustCompile(`^(?:model\.)?(?:diffusion_model\.)?(.+)\.(lora_A|lora_B|lora_down|lora_up)\.weight$`)
	reComfyA    = regexp.MustCompile(`^(?:model\.)?(?:diffusion_model\.)?(.+)\.alpha$`)
	reDiffusers = regexp.MustCompile(`^(?:transformer\.|base_model\.model\.)(.+)\.(lora_A|lora_B)(?:\.default)?\.weight$`)
	reKohya     = regexp.MustCompile(`^(lora_unet_.+)\.(lora_down|lora_up)\.weight$`)
	reKohyaA    = regexp.MustCompile(`^(lora_unet_.+)\.alpha$`)
	reBlockIdx  = regexp.MustCompile(`(double_blocks|single_blocks|transformer_blocks|single_transformer_blocks)[._](\d+)[._]`)
)

// Load reads a LoRA file in any supported format into an Adapter on
// official module paths, for the architecture cfg (nil: inferred from the
// file's shapes). It returns the format found and warnings (e.g. broken
// names in the wild that were repaired, or split layers kept as parallel
// parts).
func Load(path string, cfg *flux2.Config) (*Adapter, Format, []string, error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, "", nil, err
	}
	defer f.Close()
	names := f.Names()
	format, err := detectFormat(names)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg == nil {
		c, err := inferConfig(f, format)
		if err != nil {
			return nil, "", nil, fmt.Errorf("%s: %w", path, err)
		}
		cfg = &c
	}
	idx, err := newModuleIndex(*cfg)
	if err != nil {
		return nil, "", nil, err
	}
	var a *Adapter
	var warnings []string
	switch format {
	case FormatComfy, FormatKohya:
		a, warnings, err = readOfficial(f, format, idx)
	case FormatDiffusers:
		a, warnings, err = readDiffusers(f, idx)
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	a.Metadata = f.Metadata()
	if err := a.Validate(*cfg); err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, format, warnings, nil
}

func detectFormat(names []string) (Format, error) {
	var comfy, diff, kohya int
	for _, n := range names {
		switch {
		case reKohya.MatchString(n) || reKohyaA.MatchString(n):
			kohya++
		case reDiffusers.MatchString(n):
			diff++
		case reComfy.MatchString(n) || reComfyA.MatchString(n):
			comfy++
		}
	}
	switch {
	case kohya > 0 && comfy+diff == 0:
		return FormatKohya, nil
	case diff > 0 && kohya == 0:
		return FormatDiffusers, nil
	case comfy > 0 && kohya+diff == 0:
		return FormatComfy, nil
	case comfy+diff+kohya == 0:
		return "", fmt.Errorf("no LoRA tensors (lora_A/lora_B or lora_down/lora_up) found")
	}
	return "", fmt.Errorf("mixed LoRA naming (%d ComfyUI, %d diffusers, %d kohya tensors)", comfy, diff, kohya)
}

// inferConfig guesses the architecture from a LoRA file: the hidden size
// from a block layer's input width and the block counts from the indices.
// It matches a published variant when the hidden size is one of theirs.
func inferConfig(f *weights.File, format Format) (flux2.Config, error) {
	hidden := 0
	maxDouble, maxSingle := -1, -1
	for _, n := range f.Names() {
		if m := reBlockIdx.FindStringSubmatch(n); m != nil {
			i, _ := strconv.Atoi(m[2])
			if strings.HasPrefix(m[1], "double") || m[1] == "transformer_blocks" {
				maxDouble = max(maxDouble, i)
			} else {
				maxSingle = max(maxSingle, i)
			}
			isDown := strings.Contains(n, "lora_A") || strings.Contains(n, "lora_down")
			isProj := strings.Contains(n, "attn.proj") || strings.Contains(n, "attn_proj") || strings.Contains(n, "to_out.0") ||
				strings.Contains(n, "to_add_out") || strings.Contains(n, "qkv") || strings.Contains(n, "to_q.") || strings.Contains(n, "linear1")
			if isDown && isProj && hidden == 0 {
				if d, ok := f.Dims(n); ok && len(d) == 2 {
					hidden = d[1]
				}
			}
		}
	}
	if hidden == 0 {
		return flux2.Config{}, fmt.Errorf("cannot infer the model width from the LoRA tensors; load it against a model")
	}
	// Input widths of adapted embedders, when present.
	inDim := func(stems ...string) int {
		for _, st := range stems {
			for _, suffix := range []string{".lora_A.weight", ".lora_down.weight"} {
				if d, ok := f.Dims(st + suffix); ok && len(d) == 2 {
					return d[1]
				}
			}
		}
		return 0
	}
	inCh := inDim("diffusion_model.img_in", "transformer.x_embedder", "lora_unet_img_in")
	ctxDim := inDim("diffusion_model.txt_in", "transformer.context_embedder", "lora_unet_txt_in")
	for _, v := range flux2.Variants {
		c := v.Config
		if c.Hidden == hidden && c.Depth > maxDouble && c.DepthSingle > maxSingle &&
			(inCh == 0 || inCh == c.InChannels) && (ctxDim == 0 || ctxDim == c.ContextDim) {
			return c, nil
		}
	}
	heads := 1
	for _, hd := range []int{128, 64, 32, 16, 8} {
		if hidden%hd == 0 && hd%8 == 0 {
			heads = hidden / hd
			break
		}
	}
	hd := hidden / heads
	if inCh == 0 {
		inCh = 16
	}
	if ctxDim == 0 {
		ctxDim = 16
	}
	return flux2.Config{InChannels: inCh, ContextDim: ctxDim, Hidden: hidden, NumHeads: heads, Depth: maxDouble + 1, DepthSingle: maxSingle + 1,
		AxesDim: [4]int{hd / 4, hd / 4, hd / 4, hd / 4}, Theta: 2000, MLPRatio: 3, GuidanceEmbed: true}, nil
}

// readF32 reads a tensor as float32 values.
func readF32(f *weights.File, name string) ([]float32, []int, error) {
	t, err := f.TensorAs(name, dtypes.Float32)
	if err != nil {
		return nil, nil, err
	}
	v, err := tensors.CopyFlatData[float32](t)
	return v, t.Shape().Dimensions, err
}

func readScalar(f *weights.File, name string) (float64, error) {
	v, _, err := readF32(f, name)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s should hold one value, has %d", name, len(v))
	}
	return float64(v[0]), nil
}

// readOfficial reads ComfyUI-style or kohya files (official module paths).
func readOfficial(f *weights.File, format Format, idx *moduleIndex) (*Adapter, []string, error) {
	type entry struct {
		down, up   string
		alpha      string
		downF, upF []float32
	}
	entries := map[string]*entry{}
	var warnings []string
	get := func(stem string) (*entry, error) {
		var module, warn string
		var err error
		if format == FormatKohya {
			m, ok := idx.kohya[stem]
			if !ok {
				return nil, fmt.Errorf("%s is not a layer of this FLUX.2 architecture", stem)
			}
			module = m
		} else if module, warn, err = idx.fixOfficial(stem); err != nil {
			return nil, err
		}
		if warn != "" {
			warnings = append(warnings, warn)
		}
		e, ok := entries[module]
		if !ok {
			e = &entry{}
			entries[module] = e
		}
		return e, nil
	}
	for _, n := range f.Names() {
		var stem, kind string
		if format == FormatKohya {
			if m := reKohya.FindStringSubmatch(n); m != nil {
				stem, kind = m[1], m[2]
			} else if m := reKohyaA.FindStringSubmatch(n); m != nil {
				stem, kind = m[1], "alpha"
			}
		} else {
			if m := reComfy.FindStringSubmatch(n); m != nil {
				stem, kind = m[1], m[2]
			} else if m := reComfyA.FindStringSubmatch(n); m != nil {
				stem, kind = m[1], "alpha"
			}
		}
		if stem == "" {
			return nil, nil, fmt.Errorf("unexpected tensor %s", n)
		}
		e, err := get(stem)
		if err != nil {
			return nil, nil, err
		}
		switch kind {
		case "lora_A", "lora_down":
			e.down = n
		case "lora_B", "lora_up":
			e.up = n
		default:
			e.alpha = n
		}
	}
	a := &Adapter{Layers: map[string][]*Part{}}
	for module, e := range entries {
		if e.down == "" || e.up == "" {
			return nil, nil, fmt.Errorf("layer %s has only one of its two LoRA matrices", module)
		}
		down, dd, err := readF32(f, e.down)
		if err != nil {
			return nil, nil, err
		}
		up, ud, err := readF32(f, e.up)
		if err != nil {
			return nil, nil, err
		}
		if len(dd) != 2 || len(ud) != 2 || dd[0] != ud[1] {
			return nil, nil, fmt.Errorf("layer %s: down %v and up %v do not form a LoRA", module, dd, ud)
		}
		rank := dd[0]
		alpha := float64(rank) // ai-toolkit and PEFT-style files carry no alpha: alpha = rank
		if e.alpha != "" {
			if alpha, err = readScalar(f, e.alpha); err != nil {
				return nil, nil, err
			}
		}
		a.Layers[module] = []*Part{{Rank: rank, Alpha: alpha, In: dd[1], Rows: ud[0], Down: down, Up: up}}
	}
	return a, dedupe(warnings), nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// peftConfig is the part of diffusers' lora_adapter_metadata Flora reads.
type peftConfig struct {
	R            int                `json:"transformer.r"`
	Alpha        float64            `json:"transformer.lora_alpha"`
	RankPattern  map[string]int     `json:"transformer.rank_pattern"`
	AlphaPattern map[string]float64 `json:"transformer.alpha_pattern"`
}

// alphaFor returns the alpha PEFT applies to a diffusers module: an
// alpha_pattern entry whose key matches the module path's end, else
// lora_alpha; rank for files without a config.
func (p *peftConfig) alphaFor(module string, rank int) float64 {
	if p == nil {
		return float64(rank)
	}
	for k, v := range p.AlphaPattern {
		if re, err := regexp.Compile(`^(.*\.)?(` + k + `)$`); err == nil && re.MatchString(module) {
			return v
		}
	}
	if p.Alpha > 0 {
		return p.Alpha
	}
	return float64(rank)
}

// readDiffusers reads a diffusers/PEFT file and maps split layers back onto
// the fused official ones.
func readDiffusers(f *weights.File, idx *moduleIndex) (*Adapter, []string, error) {
	var peft *peftConfig
	if raw, ok := f.Metadata()["lora_adapter_metadata"]; ok {
		peft = &peftConfig{}
		if err := json.Unmarshal([]byte(raw), peft); err != nil {
			return nil, nil, fmt.Errorf("lora_adapter_metadata is not valid JSON: %w", err)
		}
	}
	type pair struct{ down, up string }
	pairs := map[string]*pair{}
	for _, n := range f.Names() {
		m := reDiffusers.FindStringSubmatch(n)
		if m == nil {
			return nil, nil, fmt.Errorf("unexpected tensor %s", n)
		}
		p, ok := pairs[m[1]]
		if !ok {
			p = &pair{}
			pairs[m[1]] = p
		}
		if m[2] == "lora_A" {
			p.down = n
		} else {
			p.up = n
		}
	}
	a := &Adapter{Layers: map[string][]*Part{}}
	for dmod, p := range pairs {
		ref, ok := idx.diffusers[dmod]
		if !ok {
			return nil, nil, fmt.Errorf("%s is not a layer of this FLUX.2 architecture", dmod)
		}
		if p.down == "" || p.up == "" {
			return nil, nil, fmt.Errorf("layer %s has only one of its two LoRA matrices", dmod)
		}
		down, dd, err := readF32(f, p.down)
		if err != nil {
			return nil, nil, err
		}
		up, ud, err := readF32(f, p.up)
		if err != nil {
			return nil, nil, err
		}
		if len(dd) != 2 || len(ud) != 2 || dd[0] != ud[1] || ud[0] != ref.Part.Rows {
			return nil, nil, fmt.Errorf("layer %s: down %v and up %v do not form a LoRA of %d rows", dmod, dd, ud, ref.Part.Rows)
		}
		rank := dd[0]
		if ref.Part.SwapHalves {
			up = swapRowHalves(up, ud[0], rank)
		}
		a.Layers[ref.Module] = append(a.Layers[ref.Module], &Part{Rank: rank, Alpha: peft.alphaFor(dmod, rank), In: dd[1],
			Rows: ud[0], RowOffset: ref.Part.RowOffset, Down: down, Up: up})
	}
	var warnings []string
	for module, parts := range a.Layers {
		fused, ok := fuseParts(parts)
		if ok {
			a.Layers[module] = fused
		} else {
			warnings = append(warnings, fmt.Sprintf("%s: its %d split parts have different down matrices or alphas; kept as parallel adapters (exact, slower)", module, len(parts)))
		}
	}
	sort.Strings(warnings)
	return a, warnings, nil
}

// fuseParts merges row-slice parts that share down matrix and alpha into one
// part covering their contiguous rows.
func fuseParts(parts []*Part) ([]*Part, bool) {
	if len(parts) == 1 {
		return parts, true
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].RowOffset < parts[j].RowOffset })
	first := parts[0]
	next := first.RowOffset
	for _, p := range parts {
		if p.RowOffset != next || p.Rank != first.Rank || p.Alpha != first.Alpha || !equalF32(p.Down, first.Down) {
			return parts, false
		}
		next += p.Rows
	}
	up := make([]float32, 0, (next-first.RowOffset)*first.Rank)
	for _, p := range parts {
		up = append(up, p.Up...)
	}
	return []*Part{{Rank: first.Rank, Alpha: first.Alpha, In: first.In, Rows: next - first.RowOffset, RowOffset: first.RowOffset,
		Down: first.Down, Up: up}}, true
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// swapRowHalves exchanges the two row halves of a [rows, cols] matrix.
func swapRowHalves(m []float32, rows, cols int) []float32 {
	out := make([]float32, len(m))
	half := rows / 2 * cols
	copy(out, m[half:])
	copy(out[len(m)-half:], m[:half])
	return out
}
