package lora

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
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
	// ai-toolkit writes, without alpha). diffusers 0.42's converter for this
	// naming rejects files with .alpha tensors (verified,
	// testdata/diffusers/flux2-tiny-dev-lora/flora-export): give diffusers
	// users FormatDiffusers.
	FormatComfy Format = "comfy"
	// FormatDiffusers: diffusers/PEFT names under "transformer." with the
	// PEFT config in the lora_adapter_metadata header — what
	// Flux2Pipeline.load_lora_weights reads. The fused official q/k/v become
	// to_q/to_k/to_v (add_*_proj) sharing A with B split by rows; the final
	// layer's adaLN (official rows (shift, scale)) is diffusers' norm_out.linear
	// with rows (scale, shift), so B's row halves are swapped both ways to
	// keep the update on the right rows. (diffusers' own converter from the
	// official naming maps this layer without the swap, which applies such
	// an adapter to the wrong rows — measured: relative L2 0.19 on the
	// tiny model, 2.6e-6 with the swap.)
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

// Load reads a LoRA file in any supported format into an Adapter on
// official module paths, for the architecture cfg (nil: inferred from the
// file's shapes). It returns the format found and warnings (e.g. broken
// names in the wild that were repaired, split layers kept as parallel
// parts, skipped text-encoder tensors).
//
// Recognised: ComfyUI/official names (diffusion_model.<module>, also under
// model. or without prefix, lora_A/lora_B or lora_down/lora_up, optional
// .alpha — absent alpha means alpha = rank, as ai-toolkit writes), kohya /
// musubi lora_unet_* names with .alpha, and diffusers/PEFT names
// (transformer.<module>, base_model.model.<module> or bare, as
// Flux2Pipeline.save_lora_weights and save_lora_adapter write) with alpha
// from the lora_adapter_metadata PEFT config (lora_alpha, alpha_pattern,
// use_rslora), else alpha = rank.
func Load(path string, cfg *flux2.Config) (*Adapter, Format, []string, error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, "", nil, err
	}
	defer f.Close()
	keys, warnings, err := parseKeys(f.Names())
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	format, err := detectFormat(keys)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg == nil {
		c, err := inferConfig(f, keys)
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
	var more []string
	switch format {
	case FormatComfy, FormatKohya:
		a, more, err = readOfficial(f, keys, format, idx)
	case FormatDiffusers:
		a, more, err = readDiffusers(f, keys, idx)
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	a.Metadata = f.Metadata()
	if a.Metadata == nil {
		a.Metadata = map[string]string{}
	}
	if err := a.Validate(*cfg); err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, format, append(warnings, more...), nil
}

// detectFormat returns the one naming all LoRA tensors use.
func detectFormat(keys []loraKey) (Format, error) {
	count := map[Format]int{}
	for _, k := range keys {
		count[k.Naming]++
	}
	switch len(count) {
	case 0:
		return "", fmt.Errorf("no LoRA tensors (lora_A/lora_B or lora_down/lora_up) or LoKr tensors (lokr_w1/lokr_w2) found")
	case 1:
		for f := range count {
			return f, nil
		}
	}
	return "", fmt.Errorf("mixed LoRA naming (%d ComfyUI/official, %d diffusers, %d kohya tensors)",
		count[FormatComfy], count[FormatDiffusers], count[FormatKohya])
}

var reBlockIdx = regexp.MustCompile(`^(?:lora_unet_)?(double_blocks|single_blocks|transformer_blocks|single_transformer_blocks)[._](\d+)[._](.+)$`)

// inferConfig guesses the architecture from a LoRA file: the hidden size
// from the input width of a block's attention or first MLP layer, the block
// counts from the indices, and where the adapter touches them the latent and
// text widths (img_in/txt_in) and the MLP width. A published variant is
// used when the hidden size and block counts fit one.
func inferConfig(f *weights.File, keys []loraKey) (flux2.Config, error) {
	hidden, inCh, ctx, mlp, fusedRows := 0, 0, 0, 0, 0
	maxDouble, maxSingle := -1, -1
	guidance := false
	keys, layerDims := withLoKrShapes(f, keys)
	dims := func(k loraKey, axis int) int {
		if d, ok := layerDims[k.Name]; ok {
			return d[axis]
		}
		if d, ok := f.Dims(k.Name); ok && len(d) == 2 {
			return d[axis]
		}
		return 0
	}
	for _, k := range keys {
		if k.Kind == "alpha" {
			continue
		}
		stem := strings.TrimPrefix(k.Stem, "lora_unet_")
		flat := strings.ReplaceAll(stem, ".", "_")
		if m := reBlockIdx.FindStringSubmatch(stem); m != nil {
			i, _ := strconv.Atoi(m[2])
			if m[1] == "double_blocks" || m[1] == "transformer_blocks" {
				maxDouble = max(maxDouble, i)
			} else {
				maxSingle = max(maxSingle, i)
			}
			suffix := strings.ReplaceAll(m[3], ".", "_")
			switch suffix {
			case "img_attn_qkv", "txt_attn_qkv", "img_attn_proj", "txt_attn_proj", "img_mlp_0", "txt_mlp_0", "linear1",
				"attn_to_q", "attn_to_k", "attn_to_v", "attn_add_q_proj", "attn_add_k_proj", "attn_add_v_proj",
				"attn_to_out_0", "attn_to_add_out", "ff_linear_in", "ff_context_linear_in", "attn_to_qkv_mlp_proj":
				if k.Kind == "down" && hidden == 0 {
					hidden = dims(k, 1)
				}
			}
			if k.Kind == "up" && mlp == 0 {
				switch suffix {
				case "img_mlp_0", "txt_mlp_0", "ff_linear_in", "ff_context_linear_in":
					mlp = dims(k, 0) / 2
				case "linear1", "attn_to_qkv_mlp_proj":
					fusedRows = dims(k, 0) // 3D + 2M
				}
			}
			continue
		}
		switch flat {
		case "img_in", "x_embedder":
			if k.Kind == "down" {
				inCh = dims(k, 1)
			}
		case "txt_in", "context_embedder":
			if k.Kind == "down" {
				ctx = dims(k, 1)
			}
		}
		if strings.HasPrefix(flat, "guidance_in") || strings.Contains(flat, "guidance_embedder") {
			guidance = true
		}
	}
	if hidden == 0 {
		return flux2.Config{}, fmt.Errorf("cannot infer the model width from the LoRA tensors (no attention or MLP layer of a block); load it against a model")
	}
	if mlp == 0 && fusedRows > 3*hidden {
		mlp = (fusedRows - 3*hidden) / 2
	}
	for _, v := range flux2.Variants {
		c := v.Config
		if c.Hidden == hidden && c.Depth > maxDouble && c.DepthSingle > maxSingle &&
			(inCh == 0 || inCh == c.InChannels) && (ctx == 0 || ctx == c.ContextDim) && (mlp == 0 || mlp == c.MLPHidden()) &&
			(!guidance || c.GuidanceEmbed) {
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
	ratio := 3.0
	if mlp > 0 {
		ratio = float64(mlp) / float64(hidden)
	}
	if inCh == 0 {
		inCh = 128
	}
	if ctx == 0 {
		ctx = hidden
	}
	return flux2.Config{InChannels: inCh, ContextDim: ctx, Hidden: hidden, NumHeads: heads, Depth: maxDouble + 1, DepthSingle: maxSingle + 1,
		AxesDim: [4]int{hd / 4, hd / 4, hd / 4, hd / 4}, Theta: 2000, MLPRatio: ratio, GuidanceEmbed: true}, nil
}

// withLoKrShapes adds to keys, for each layer stored as LoKr, a down and an
// up key standing for its layer shape [out, in] = [w1 rows·w2 rows, w1
// cols·w2 cols] (dims [1, in] and [out, 1], returned by key name), so
// inferConfig reads LoKr layers as it reads LoRA ones.
func withLoKrShapes(f *weights.File, keys []loraKey) ([]loraKey, map[string][]int) {
	shapes := map[string]map[string][]int{}
	for _, k := range keys {
		if _, ok := lokrKindNames[k.Kind]; !ok {
			continue
		}
		if shapes[k.Stem] == nil {
			shapes[k.Stem] = map[string][]int{}
		}
		if d, ok := f.Dims(k.Name); ok && len(d) == 2 {
			shapes[k.Stem][k.Kind] = d
		}
	}
	out := keys
	dims := map[string][]int{}
	stems := make([]string, 0, len(shapes))
	for stem := range shapes {
		stems = append(stems, stem)
	}
	sort.Strings(stems)
	for _, stem := range stems {
		s := shapes[stem]
		w1 := s["w1"]
		w2 := s["w2"]
		if w2 == nil && s["w2_a"] != nil && s["w2_b"] != nil {
			w2 = []int{s["w2_a"][0], s["w2_b"][1]}
		}
		if w1 == nil || w2 == nil {
			continue // readLoKr names what is missing
		}
		down, up := "\x00lokr down "+stem, "\x00lokr up "+stem
		dims[down], dims[up] = []int{1, w1[1] * w2[1]}, []int{w1[0] * w2[0], 1}
		out = append(out, loraKey{Name: down, Stem: stem, Kind: "down"}, loraKey{Name: up, Stem: stem, Kind: "up"})
	}
	return out, dims
}

// lokrKindNames maps a LoKr key kind back to its tensor suffix.
var lokrKindNames = map[string]string{"w1": "lokr_w1", "w2": "lokr_w2", "w2_a": "lokr_w2_a", "w2_b": "lokr_w2_b"}

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

// factorPair collects the tensors of one module; lokr maps the LoKr kinds
// (w1, w2, w2_a, w2_b) to tensor names.
type factorPair struct {
	down, up, alpha string
	lokr            map[string]string
}

// pairsByStem groups parsed keys by module stem.
func pairsByStem(keys []loraKey) (map[string]*factorPair, []string) {
	pairs := map[string]*factorPair{}
	var order []string
	for _, k := range keys {
		p, ok := pairs[k.Stem]
		if !ok {
			p = &factorPair{}
			pairs[k.Stem] = p
			order = append(order, k.Stem)
		}
		switch k.Kind {
		case "down":
			p.down = k.Name
		case "up":
			p.up = k.Name
		case "alpha":
			p.alpha = k.Name
		default:
			if p.lokr == nil {
				p.lokr = map[string]string{}
			}
			p.lokr[k.Kind] = k.Name
		}
	}
	sort.Strings(order)
	return pairs, order
}

// readFactors reads a module's down and up matrices and checks they form a
// LoRA: down [rank, in], up [rows, rank].
func readFactors(f *weights.File, stem string, p *factorPair) (down, up []float32, rank, in, rows int, err error) {
	if p.down == "" || p.up == "" {
		return nil, nil, 0, 0, 0, fmt.Errorf("layer %s has only one of its two LoRA matrices", stem)
	}
	down, dd, err := readF32(f, p.down)
	if err != nil {
		return nil, nil, 0, 0, 0, err
	}
	up, ud, err := readF32(f, p.up)
	if err != nil {
		return nil, nil, 0, 0, 0, err
	}
	if len(dd) != 2 || len(ud) != 2 || dd[0] != ud[1] || dd[0] < 1 {
		return nil, nil, 0, 0, 0, fmt.Errorf("layer %s: down %v and up %v do not form a LoRA (want [rank, in] and [out, rank])", stem, dd, ud)
	}
	return down, up, dd[0], dd[1], ud[0], nil
}

// readOfficial reads ComfyUI-style or kohya files (official module paths).
func readOfficial(f *weights.File, keys []loraKey, format Format, idx *moduleIndex) (*Adapter, []string, error) {
	pairs, order := pairsByStem(keys)
	var warnings []string
	a := &Adapter{Layers: map[string][]*Part{}}
	for _, stem := range order {
		var module, warn string
		var err error
		if format == FormatKohya {
			m, ok := idx.kohya[stem]
			if !ok {
				return nil, nil, fmt.Errorf("%s is not a layer of this FLUX.2 architecture", stem)
			}
			module = m
		} else if module, warn, err = idx.fixOfficial(stem); err != nil {
			return nil, nil, err
		}
		if warn != "" {
			warnings = append(warnings, warn)
		}
		if _, dup := a.Layers[module]; dup {
			return nil, nil, fmt.Errorf("layer %s is stored twice (as %s and another spelling)", module, stem)
		}
		p := pairs[stem]
		if p.lokr != nil {
			if p.down != "" || p.up != "" {
				return nil, nil, fmt.Errorf("layer %s has both LoRA and LoKr tensors; keep one adapter type per layer", stem)
			}
			names := map[string]string{"alpha": p.alpha}
			for k, v := range p.lokr {
				names[k] = v
			}
			part, err := readLoKr(f, stem, names)
			if err != nil {
				return nil, nil, err
			}
			a.Layers[module] = []*Part{part}
			continue
		}
		down, up, rank, in, rows, err := readFactors(f, stem, p)
		if err != nil {
			return nil, nil, err
		}
		alpha := float64(rank) // ai-toolkit and PEFT-style files carry no alpha: alpha = rank
		if p.alpha != "" {
			if alpha, err = readScalar(f, p.alpha); err != nil {
				return nil, nil, err
			}
		}
		a.Layers[module] = []*Part{{Rank: rank, Alpha: alpha, In: in, Rows: rows, Down: down, Up: up}}
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

// peftConfig is the part of diffusers' lora_adapter_metadata (a PEFT
// LoraConfig as JSON) that sets the scale of each module.
type peftConfig struct {
	Alpha float64
	// AlphaPattern holds (regex, alpha) in the order PEFT tries them: the
	// file's key order, which diffusers writes sorted (json sort_keys).
	AlphaPattern []alphaPattern
	RSLoRA       bool
}

type alphaPattern struct {
	re    *regexp.Regexp
	alpha float64
}

// parsePEFTConfig reads lora_adapter_metadata: written by
// Flux2Pipeline.save_lora_weights with "transformer."-prefixed keys, by
// save_lora_adapter without prefix. Nil when the header has none.
func parsePEFTConfig(md map[string]string) (*peftConfig, error) {
	raw, ok := md["lora_adapter_metadata"]
	if !ok {
		return nil, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		return nil, fmt.Errorf("lora_adapter_metadata is not a JSON object: %w", err)
	}
	fields := map[string]json.RawMessage{}
	prefixed := false
	for k := range all {
		prefixed = prefixed || strings.HasPrefix(k, "transformer.")
	}
	for k, v := range all {
		if prefixed {
			if !strings.HasPrefix(k, "transformer.") {
				continue
			}
			k = strings.TrimPrefix(k, "transformer.")
		}
		fields[k] = v
	}
	var pc peftConfig
	var useDoRA bool
	var patterns map[string]float64
	for k, dst := range map[string]any{"lora_alpha": &pc.Alpha, "use_rslora": &pc.RSLoRA, "use_dora": &useDoRA, "alpha_pattern": &patterns} {
		v, ok := fields[k]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, fmt.Errorf("lora_adapter_metadata: %s: %w", k, err)
		}
	}
	if useDoRA {
		return nil, fmt.Errorf("lora_adapter_metadata says use_dora: DoRA adapters are not supported")
	}
	keys := make([]string, 0, len(patterns))
	for k := range patterns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		re, err := regexp.Compile(`^(.*\.)?(` + k + `)$`)
		if err != nil {
			return nil, fmt.Errorf("lora_adapter_metadata: alpha_pattern key %q is not a regular expression Flora can read: %w", k, err)
		}
		pc.AlphaPattern = append(pc.AlphaPattern, alphaPattern{re, patterns[k]})
	}
	return &pc, nil
}

// alphaFor returns the Flora alpha (scale = alpha/rank) of a diffusers
// module as PEFT computes its scale: the first alpha_pattern entry matching
// the module path's end (PEFT's get_pattern_key), else lora_alpha; for
// rsLoRA (scale alpha/√rank) alpha·√rank; rank for files without a config.
func (p *peftConfig) alphaFor(module string, rank int) float64 {
	if p == nil {
		return float64(rank)
	}
	alpha := p.Alpha
	for _, ap := range p.AlphaPattern {
		if ap.re.MatchString(module) {
			alpha = ap.alpha
			break
		}
	}
	if alpha <= 0 {
		alpha = float64(rank)
	}
	if p.RSLoRA {
		return alpha * math.Sqrt(float64(rank))
	}
	return alpha
}

// readDiffusers reads a diffusers/PEFT file and maps split layers back onto
// the fused official ones: q/k/v parts that share one A and alpha become a
// single part (B stacked); otherwise they stay parallel parts on their rows.
func readDiffusers(f *weights.File, keys []loraKey, idx *moduleIndex) (*Adapter, []string, error) {
	peft, err := parsePEFTConfig(f.Metadata())
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	if peft != nil && peft.RSLoRA {
		warnings = append(warnings, "rsLoRA scaling (lora_alpha/√rank) read as alpha = lora_alpha·√rank")
	}
	pairs, order := pairsByStem(keys)
	a := &Adapter{Layers: map[string][]*Part{}}
	for _, dmod := range order {
		ref, ok := idx.diffusers[dmod]
		if !ok {
			return nil, nil, fmt.Errorf("%s is not a layer of this FLUX.2 architecture", dmod)
		}
		p := pairs[dmod]
		if p.lokr != nil {
			return nil, nil, fmt.Errorf("layer %s: LoKr on diffusers module names is not read; convert the file to official names (diffusion_model.<module>.lokr_w1, as ai-toolkit writes)", dmod)
		}
		down, up, rank, in, rows, err := readFactors(f, dmod, p)
		if err != nil {
			return nil, nil, err
		}
		if rows != ref.Part.Rows {
			return nil, nil, fmt.Errorf("layer %s: up has %d rows, the layer has %d", dmod, rows, ref.Part.Rows)
		}
		if ref.Part.SwapHalves {
			up = swapRowHalves(up, rows, rank)
		}
		alpha := peft.alphaFor(dmod, rank)
		if p.alpha != "" { // bare diffusers names with kohya-style alphas (SimpleTuner exports)
			if alpha, err = readScalar(f, p.alpha); err != nil {
				return nil, nil, err
			}
		}
		a.Layers[ref.Module] = append(a.Layers[ref.Module], &Part{Rank: rank, Alpha: alpha, In: in,
			Rows: rows, RowOffset: ref.Part.RowOffset, Down: down, Up: up})
	}
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
		if p.RowOffset != next || p.Rank != first.Rank || p.Alpha != first.Alpha || !slices.Equal(p.Down, first.Down) {
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

// swapRowHalves exchanges the two row halves of a [rows, cols] matrix.
func swapRowHalves(m []float32, rows, cols int) []float32 {
	out := make([]float32, len(m))
	half := rows / 2 * cols
	copy(out, m[half:])
	copy(out[len(m)-half:], m[:half])
	return out
}
