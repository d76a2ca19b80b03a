package lora

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// Meta is what Flora records in an adapter's header, besides the keys other
// tools read (diffusers' PEFT config, kohya/ai-toolkit ss_* keys, modelspec).
type Meta struct {
	// Variant is the base FLUX.2 variant (its ArchTag goes to
	// ss_base_model_version).
	Variant flux2.Variant
	// BaseHash fingerprints the base weights trained on.
	BaseHash string
	Trigger  string
	Steps    int
	// Targets is the target preset/patterns description.
	Targets string
	// Config is the resolved training config (YAML).
	Config string
	Title  string
	// DType is the dtype of the A/B factors in the file: F32 (the default),
	// BF16 or F16 (FactorDType reads a file's, to convert it unchanged).
	// Alphas are always F32.
	DType weights.DType
	// Source is the header of the file the adapter was read from, when
	// rewriting one (lora convert, resize: see RewriteMeta); nil for an
	// adapter Flora trained. The new header then keeps the source's keys and
	// updates only those describing the stored tensors (format, rank,
	// alpha, layers, PEFT config); the training fields above (Steps,
	// Trigger, ...) are not written, and nothing claims Flora trained it.
	Source map[string]string
	// SourceFormat is the naming of the Source file.
	SourceFormat Format
}

// Save writes the adapter to path (atomically) in a format.
func Save(path string, a *Adapter, format Format, meta Meta) error {
	var ts []weights.TensorData
	var err error
	outs := layerOuts(meta.Variant.Config)
	dt := meta.DType
	switch dt {
	case "":
		dt = weights.F32
	case weights.F32, weights.BF16, weights.F16:
	default:
		return fmt.Errorf("writing %s: LoRA factors can be stored as F32, BF16 or F16, not %q", path, dt)
	}
	var stored []namedPart
	if a.IsLoKr() {
		if err := checkLoKrLayout(a); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if format == FormatDiffusers {
			return fmt.Errorf("writing %s: a LoKr adapter has no diffusers-named form (a Kronecker update of the fused q/k/v does not split into to_q/to_k/to_v); "+
				"write format comfy instead: diffusers' Flux2 loader converts that naming (diffusion_model.<module>.lokr_w1) itself", path)
		}
	}
	switch format {
	case FormatComfy, FormatKohya:
		stored = officialParts(a, outs)
		ts, err = officialTensors(stored, format, dt)
	case FormatDiffusers:
		if stored, err = diffusersExport(a, outs); err == nil {
			ts, err = diffusersTensors(stored, dt)
		}
	default:
		return fmt.Errorf("unknown LoRA format %q", format)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	md, err := header(a, format, meta, stored)
	if err != nil {
		return err
	}
	return weights.WriteFile(path, ts, md)
}

// dense returns one part per module covering all its rows, combining
// parallel parts exactly: ranks are concatenated (A stacked, B side by side,
// each part's scale folded into its B columns) and the result's alpha equals
// its rank, so its scale is 1.
func dense(module string, parts []*Part, out int) *Part {
	if len(parts) == 1 && parts[0].RowOffset == 0 && parts[0].Rows == out {
		return parts[0]
	}
	rank := 0
	for _, p := range parts {
		rank += p.Rank
	}
	in := parts[0].In
	d := &Part{Rank: rank, Alpha: float64(rank), In: in, Rows: out, Down: make([]float32, 0, rank*in), Up: make([]float32, out*rank)}
	col := 0
	for _, p := range parts {
		d.Down = append(d.Down, p.Down...)
		s := float32(p.Scale())
		for r := 0; r < p.Rows; r++ {
			for k := 0; k < p.Rank; k++ {
				d.Up[(p.RowOffset+r)*rank+col+k] = p.Up[r*p.Rank+k] * s
			}
		}
		col += p.Rank
	}
	return d
}

// layerOut is a layer's output width: from the architecture when known (an
// adapter may cover only some rows of a fused layer); else, for the layers
// whose width is a multiple of their input width (the fused q/k/v, the
// modulations, the final adaLN), from the parts' input width — an import of
// diffusers' to_q alone covers only a third of img_attn.qkv; else the rows
// its parts reach.
func layerOut(a *Adapter, module string, outs map[string]int) int {
	if o, ok := outs[module]; ok {
		return o
	}
	out := 0
	for _, p := range a.Layers[module] {
		out = max(out, p.RowOffset+p.Rows)
	}
	if parts := a.Layers[module]; len(parts) > 0 {
		if k := outputMultiple(module); k > 0 {
			out = max(out, k*parts[0].In)
		}
	}
	return out
}

// outputMultiple is out/in of the FLUX.2 layers whose output width is a
// fixed multiple of their input width (the hidden size), or 0.
func outputMultiple(module string) int {
	switch {
	case strings.HasSuffix(module, "_attn.qkv") && strings.HasPrefix(module, "double_blocks."):
		return 3
	case module == "final_layer.adaLN_modulation.1":
		return 2
	case module == "double_stream_modulation_img.lin" || module == "double_stream_modulation_txt.lin":
		return 6
	case module == "single_stream_modulation.lin":
		return 3
	}
	return 0
}

// layerOuts maps the modules of an architecture to their output widths
// (empty for an unknown architecture).
func layerOuts(cfg flux2.Config) map[string]int {
	outs := map[string]int{}
	if cfg.Validate() != nil {
		return outs
	}
	layers, _ := Layers(cfg)
	for _, l := range layers {
		outs[l.Module] = l.Out
	}
	return outs
}

// officialTensors writes official module paths (ComfyUI or kohya names).
func officialTensors(parts []namedPart, format Format, dt weights.DType) ([]weights.TensorData, error) {
	var ts []weights.TensorData
	for _, np := range parts {
		m, p := np.name, np.p
		if p.LoKr != nil {
			stem := "diffusion_model." + m
			if format == FormatKohya {
				stem = kohyaName(m)
			}
			lt, err := lokrTensors(stem, p, dt)
			if err != nil {
				return nil, err
			}
			ts = append(ts, lt...)
			continue
		}
		var down, up, alpha string
		if format == FormatKohya {
			stem := kohyaName(m)
			down, up, alpha = stem+".lora_down.weight", stem+".lora_up.weight", stem+".alpha"
		} else {
			stem := "diffusion_model." + m
			down, up, alpha = stem+".lora_A.weight", stem+".lora_B.weight", stem+".alpha"
		}
		d, err := weights.Float32DataAs(down, dt, []int{p.Rank, p.In}, p.Down)
		if err != nil {
			return nil, err
		}
		u, err := weights.Float32DataAs(up, dt, []int{p.Rows, p.Rank}, p.Up)
		if err != nil {
			return nil, err
		}
		// kohya writes alpha as a scalar; Black Forest Labs' code (and so
		// ComfyUI-named files) as shape [1]. Readers take either.
		alphaShape := []int{1}
		if format == FormatKohya {
			alphaShape = []int{}
		}
		ts = append(ts, d, u, weights.Float32Data(alpha, alphaShape, []float32{float32(p.Alpha)}))
	}
	return ts, nil
}

// namedPart is one stored LoRA: a module path of the file's naming and the
// part written for it (covering all its rows).
type namedPart struct {
	name string
	p    *Part
}

// officialParts is what the ComfyUI and kohya formats store: one part per
// official module, parallel parts combined exactly (dense).
func officialParts(a *Adapter, outs map[string]int) []namedPart {
	var out []namedPart
	for _, m := range a.Modules() {
		out = append(out, namedPart{m, dense(m, a.Layers[m], layerOut(a, m, outs))})
	}
	return out
}

// diffusersExport is what the diffusers format stores: per diffusers module
// (to_q/to_k/to_v for a fused official qkv), the parts that touch its rows.
// A single part covering the module's rows is written as is (its A, its
// rows of B, its alpha) — so a shared-A fused qkv becomes three modules
// sharing A, and parallel parts imported from diffusers go back to their own
// modules; several parts on one module are combined exactly (dense). Split
// modules no part touches are not written. B rows are given in diffusers'
// order (final adaLN halves swapped). Each part's scale alpha/rank is folded
// into B (foldScale), so loaders that ignore the PEFT config — ComfyUI, and
// diffusers' load_lora_adapter without use_safetensors — apply the same
// weights as those that read it.
func diffusersExport(a *Adapter, outs map[string]int) ([]namedPart, error) {
	var out []namedPart
	for _, m := range a.Modules() {
		rows := layerOut(a, m, outs)
		dparts, err := diffusersParts(m, rows)
		if err != nil {
			return nil, err
		}
		parts := a.Layers[m]
		for _, dp := range dparts {
			var over []*Part
			for _, p := range parts {
				if p.RowOffset < dp.RowOffset+dp.Rows && dp.RowOffset < p.RowOffset+p.Rows {
					over = append(over, p)
				}
			}
			if len(over) == 0 {
				continue
			}
			src, offset := over[0], over[0].RowOffset
			if len(over) > 1 || src.RowOffset > dp.RowOffset || src.RowOffset+src.Rows < dp.RowOffset+dp.Rows {
				src, offset = dense(m, over, rows), 0
			}
			start := dp.RowOffset - offset
			up := src.Up[start*src.Rank : (start+dp.Rows)*src.Rank]
			if dp.SwapHalves {
				up = swapRowHalves(up, dp.Rows, src.Rank)
			}
			out = append(out, namedPart{dp.Module, foldScale(&Part{Rank: src.Rank, Alpha: src.Alpha, In: src.In, Rows: dp.Rows, Down: src.Down, Up: up})})
		}
	}
	return out, nil
}

// foldScale returns p with its scale alpha/rank folded into B and alpha set
// to the rank (scale 1): the same update ΔW = B·A for every loader, whether
// it reads alpha from the file's metadata or, finding none, takes alpha =
// rank (PEFT's default). p is not changed.
func foldScale(p *Part) *Part {
	if p.Alpha == float64(p.Rank) {
		return p
	}
	s := float32(p.Scale())
	up := make([]float32, len(p.Up))
	for i, v := range p.Up {
		up[i] = v * s
	}
	q := *p
	q.Up, q.Alpha = up, float64(p.Rank)
	return &q
}

// diffusersTensors writes diffusers names under "transformer.".
func diffusersTensors(parts []namedPart, dt weights.DType) ([]weights.TensorData, error) {
	var ts []weights.TensorData
	for _, np := range parts {
		stem, p := "transformer."+np.name, np.p
		d, err := weights.Float32DataAs(stem+".lora_A.weight", dt, []int{p.Rank, p.In}, p.Down)
		if err != nil {
			return nil, err
		}
		u, err := weights.Float32DataAs(stem+".lora_B.weight", dt, []int{p.Rows, p.Rank}, p.Up)
		if err != nil {
			return nil, err
		}
		ts = append(ts, d, u)
	}
	return ts, nil
}

// header builds the safetensors metadata from the stored parts: the keys
// describing them (storageHeader) and, for an adapter Flora trained, the
// training facts of meta; for a rewritten file (meta.Source), the source's
// header carried over instead (carriedHeader).
func header(a *Adapter, format Format, meta Meta, stored []namedPart) (map[string]string, error) {
	rank, alpha, rankPattern, alphaPattern := rankSummary(stored)
	md, err := storageHeader(a, format, stored, rank, alpha, rankPattern, alphaPattern)
	if err != nil {
		return nil, err
	}
	if meta.Source != nil {
		return carriedHeader(meta, format, md, rank, alpha), nil
	}
	for k, v := range map[string]string{
		"flora.targets":            meta.Targets,
		"flora.base_variant":       meta.Variant.Name,
		"flora.base_hash":          meta.BaseHash,
		"flora.trigger":            meta.Trigger,
		"ss_network_module":        "networks.lora_flux_2",
		"ss_base_model_version":    meta.Variant.ArchTag,
		"ss_training_comment":      "trained with flora",
		"modelspec.sai_model_spec": "1.0.0",
		"modelspec.architecture":   modelspecArchitecture(meta.Variant.ArchTag) + "/lora",
		"modelspec.title":          meta.Title,
		"modelspec.implementation": "https://github.com/black-forest-labs/flux2",
		"modelspec.trigger_phrase": meta.Trigger,
		"flora.config":             meta.Config,
	} {
		md[k] = v
	}
	if a.IsLoKr() {
		for k, v := range lokrHeader(a) {
			md[k] = v
		}
	}
	if meta.Steps > 0 {
		md["flora.steps"] = strconv.Itoa(meta.Steps)
		md["ss_steps"] = strconv.Itoa(meta.Steps)
	}
	for k, v := range md {
		if v == "" {
			delete(md, k)
		}
	}
	return md, nil
}

// storageHeader returns the header keys that describe the stored tensors —
// naming, rank and alpha summary with their per-layer exceptions, layer
// count, diffusers' PEFT config — each set or "" where it does not apply, so
// a rewritten file's stale value is removed.
func storageHeader(a *Adapter, format Format, stored []namedPart, rank int, alpha float64,
	rankPattern map[string]int, alphaPattern map[string]float64) (map[string]string, error) {
	md := map[string]string{
		// "pt" is the safetensors convention diffusers, PEFT and ai-toolkit
		// write (and Hugging Face loaders check); Flora's naming goes to
		// flora.format.
		"format":                "pt",
		"flora.format":          string(format),
		"flora.rank":            strconv.Itoa(rank),
		"flora.alpha":           strconv.FormatFloat(alpha, 'g', -1, 64),
		"flora.layers":          strconv.Itoa(len(a.Layers)),
		"ss_network_dim":        strconv.Itoa(rank),
		"ss_network_alpha":      strconv.FormatFloat(alpha, 'g', -1, 64),
		"flora.rank_pattern":    "",
		"flora.alpha_pattern":   "",
		"lora_adapter_metadata": "",
		"flora.adapter_type":    "",
		"flora.lokr_factor":     "",
	}
	if a.IsLoKr() {
		for k, v := range lokrHeader(a) {
			md[k] = v
		}
	}
	if format != FormatDiffusers && (len(rankPattern) > 0 || len(alphaPattern) > 0) {
		// Per-layer exceptions to flora.rank/flora.alpha, on official paths.
		for k, v := range map[string]any{"flora.rank_pattern": rankPattern, "flora.alpha_pattern": alphaPattern} {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			md[k] = string(b)
		}
	}
	if format == FormatDiffusers {
		targets := make([]string, len(stored))
		for i, np := range stored {
			targets[i] = np.name
		}
		sort.Strings(targets)
		// The PEFT LoraConfig diffusers builds the adapter from: ranks must
		// match the tensors (rank_pattern for every exception), alphas give
		// the scales; keys are full module paths, which PEFT matches as
		// regular expressions anchored at a module-path boundary.
		cfg := map[string]any{
			"transformer.r": rank, "transformer.lora_alpha": alpha, "transformer.peft_type": "LORA",
			"transformer.rank_pattern": rankPattern, "transformer.alpha_pattern": alphaPattern,
			"transformer.target_modules": targets, "transformer.init_lora_weights": true,
			"transformer.lora_dropout": 0.0, "transformer.bias": "none", "transformer.fan_in_fan_out": false,
			"transformer.use_dora": false, "transformer.use_rslora": false,
		}
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return nil, err
		}
		md["lora_adapter_metadata"] = string(b)
	}
	return md, nil
}

// rankSummary returns the most common (rank, alpha) of the stored parts
// (ties: the smaller rank, then the smaller alpha) and the per-module
// exceptions.
func rankSummary(stored []namedPart) (int, float64, map[string]int, map[string]float64) {
	type ra struct {
		r int
		a float64
	}
	count := map[ra]int{}
	for _, np := range stored {
		count[ra{np.p.Rank, np.p.Alpha}]++
	}
	var best ra
	for k, n := range count {
		switch {
		case n > count[best], best.r == 0,
			n == count[best] && (k.r < best.r || k.r == best.r && k.a < best.a):
			best = k
		}
	}
	rp, ap := map[string]int{}, map[string]float64{}
	for _, np := range stored {
		if np.p.Rank != best.r {
			rp[np.name] = np.p.Rank
		}
		if np.p.Alpha != best.a {
			ap[np.name] = np.p.Alpha
		}
	}
	return best.r, best.a, rp, ap
}

// modelspecArchitecture is the modelspec.architecture stem musubi-tuner
// writes for a kohya ArchTag (ss_base_model_version).
func modelspecArchitecture(archTag string) string {
	switch archTag {
	case "flux2":
		return "Flux.2-dev"
	case "flux2_klein_4b":
		return "Flux.2-klein-4b"
	case "flux2_klein_9b":
		return "Flux.2-klein-9b"
	}
	return "Flux.2"
}
