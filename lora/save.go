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
	switch format {
	case FormatComfy, FormatKohya:
		ts, err = officialTensors(a, format, outs, dt)
	case FormatDiffusers:
		ts, err = diffusersTensors(a, outs, dt)
	default:
		return fmt.Errorf("unknown LoRA format %q", format)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	md, err := header(a, format, meta, outs)
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
func officialTensors(a *Adapter, format Format, outs map[string]int, dt weights.DType) ([]weights.TensorData, error) {
	var ts []weights.TensorData
	for _, m := range a.Modules() {
		p := dense(m, a.Layers[m], layerOut(a, m, outs))
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
		ts = append(ts, d, u, weights.Float32Data(alpha, []int{}, []float32{float32(p.Alpha)}))
	}
	return ts, nil
}

// diffusersTensors writes diffusers names: a fused official layer is
// written as its split modules, each with the shared A and its rows of B.
func diffusersTensors(a *Adapter, outs map[string]int, dt weights.DType) ([]weights.TensorData, error) {
	var ts []weights.TensorData
	for _, m := range a.Modules() {
		out := layerOut(a, m, outs)
		dparts, err := diffusersParts(m, out)
		if err != nil {
			return nil, err
		}
		p := dense(m, a.Layers[m], out)
		for _, dp := range dparts {
			up := p.Up[dp.RowOffset*p.Rank : (dp.RowOffset+dp.Rows)*p.Rank]
			if dp.SwapHalves {
				up = swapRowHalves(up, dp.Rows, p.Rank)
			}
			stem := "transformer." + dp.Module
			d, err := weights.Float32DataAs(stem+".lora_A.weight", dt, []int{p.Rank, p.In}, p.Down)
			if err != nil {
				return nil, err
			}
			u, err := weights.Float32DataAs(stem+".lora_B.weight", dt, []int{dp.Rows, p.Rank}, up)
			if err != nil {
				return nil, err
			}
			ts = append(ts, d, u)
		}
	}
	return ts, nil
}

// header builds the safetensors metadata.
func header(a *Adapter, format Format, meta Meta, outs map[string]int) (map[string]string, error) {
	rank, alpha, rankPattern, alphaPattern := rankSummary(a, format, outs)
	md := map[string]string{
		// "pt" is the safetensors convention diffusers, PEFT and ai-toolkit
		// write (and Hugging Face loaders check); Flora's naming goes to
		// flora.format.
		"format":                   "pt",
		"flora.format":             string(format),
		"flora.rank":               strconv.Itoa(rank),
		"flora.alpha":              strconv.FormatFloat(alpha, 'g', -1, 64),
		"flora.targets":            meta.Targets,
		"flora.layers":             strconv.Itoa(len(a.Layers)),
		"flora.base_variant":       meta.Variant.Name,
		"flora.base_hash":          meta.BaseHash,
		"flora.trigger":            meta.Trigger,
		"flora.steps":              strconv.Itoa(meta.Steps),
		"ss_network_module":        "networks.lora_flux_2",
		"ss_network_dim":           strconv.Itoa(rank),
		"ss_network_alpha":         strconv.FormatFloat(alpha, 'g', -1, 64),
		"ss_base_model_version":    meta.Variant.ArchTag,
		"ss_training_comment":      "trained with flora",
		"modelspec.sai_model_spec": "1.0.0",
		"modelspec.architecture":   modelspecArchitecture(meta.Variant.ArchTag) + "/lora",
		"modelspec.title":          meta.Title,
		"modelspec.implementation": "https://github.com/black-forest-labs/flux2",
		"modelspec.trigger_phrase": meta.Trigger,
	}
	if meta.Steps > 0 {
		md["ss_steps"] = strconv.Itoa(meta.Steps)
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
	if meta.Config != "" {
		md["flora.config"] = meta.Config
	}
	if format == FormatDiffusers {
		cfg := map[string]any{
			"transformer.r": rank, "transformer.lora_alpha": alpha, "transformer.peft_type": "LORA",
			"transformer.rank_pattern": rankPattern, "transformer.alpha_pattern": alphaPattern,
			"transformer.target_modules": diffusersTargets(a, outs), "transformer.init_lora_weights": true,
			"transformer.lora_dropout": 0.0, "transformer.bias": "none", "transformer.fan_in_fan_out": false,
			"transformer.use_dora": false, "transformer.use_rslora": false,
		}
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return nil, err
		}
		md["lora_adapter_metadata"] = string(b)
	}
	for k, v := range md {
		if v == "" {
			delete(md, k)
		}
	}
	return md, nil
}

// rankSummary returns the most common rank and alpha, and the per-module
// exceptions (diffusers module names for the diffusers format).
func rankSummary(a *Adapter, format Format, outs map[string]int) (int, float64, map[string]int, map[string]float64) {
	type ra struct {
		r int
		a float64
	}
	count := map[ra]int{}
	per := map[string]ra{}
	for _, m := range a.Modules() {
		p := dense(m, a.Layers[m], layerOut(a, m, outs))
		per[m] = ra{p.Rank, p.Alpha}
		count[ra{p.Rank, p.Alpha}]++
	}
	var best ra
	for k, n := range count {
		if n > count[best] || (n == count[best] && (k.r < best.r || best.r == 0)) {
			best = k
		}
	}
	rp, ap := map[string]int{}, map[string]float64{}
	for m, v := range per {
		names := []string{m}
		if format == FormatDiffusers {
			names = nil
			dps, _ := diffusersParts(m, layerOut(a, m, outs))
			for _, dp := range dps {
				names = append(names, dp.Module)
			}
		}
		for _, n := range names {
			if v.r != best.r {
				rp[n] = v.r
			}
			if v.a != best.a {
				ap[n] = v.a
			}
		}
	}
	return best.r, best.a, rp, ap
}

func diffusersTargets(a *Adapter, outs map[string]int) []string {
	seen := map[string]bool{}
	for _, m := range a.Modules() {
		dps, _ := diffusersParts(m, layerOut(a, m, outs))
		for _, dp := range dps {
			seen[dp.Module] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
