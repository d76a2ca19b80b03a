package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
)

func init() {
	register(&command{
		name:    "lora",
		summary: "inspect, convert, merge and resize LoRA adapters",
		subcommands: []*command{
			{name: "inspect", summary: "show a LoRA file's format, base model, targets, ranks, alphas and update norms",
				usage: "lora inspect FILE [--json]", setup: loraInspectCmd},
			{name: "convert", summary: "rewrite a LoRA in another naming: comfy (ComfyUI/official), diffusers (PEFT), kohya",
				usage: "lora convert IN --to comfy|diffusers|kohya --out OUT", setup: loraConvertCmd},
			{name: "merge", summary: "merge adapters into a base model and write the merged checkpoint in the base's layout",
				usage: "lora merge --base MODEL --lora FILE[:scale] [--lora ...] --out OUT.safetensors|OUT_FOLDER (diffusers base)", setup: loraMergeCmd},
			{name: "resize", summary: "reduce an adapter's rank by truncated SVD, reporting the energy kept",
				usage: "lora resize IN --rank N --out OUT [--to comfy|diffusers|kohya]", setup: loraResizeCmd},
		},
	})
}

// layerGroupOf names the group of a module for reports.
func layerGroupOf(module string) string {
	if g := flux2.LinearGroup(module); g != "" {
		return g
	}
	return "global"
}

type loraGroupReport struct {
	Group   string   `json:"group"`
	Layers  int      `json:"layers"`
	Ranks   []int    `json:"ranks"`
	Alphas  []string `json:"alphas"`
	Params  int64    `json:"params"`
	NormRMS float64  `json:"update_norm_rms"`
	NormMax float64  `json:"update_norm_max"`
}

type loraReport struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	// Type is lora or lokr; for lokr Factor is the factor the shapes follow
	// (lora.Adapter.LoKrFactor; absent when none does) and W2 says whether
	// lokr_w2 is whole ("full"), low-rank or both across layers.
	Type     string            `json:"type"`
	Factor   *int              `json:"lokr_factor,omitempty"`
	W2       string            `json:"lokr_w2,omitempty"`
	Base     string            `json:"base_model"`
	Targets  int               `json:"targets"`
	Params   int64             `json:"params"`
	Groups   []loraGroupReport `json:"groups"`
	Warnings []string          `json:"warnings,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Clients says which tools load this file and which layers they drop.
	Clients []loraClientReport `json:"clients"`
}

// loraClientReport is one row of the compatibility table (lora.Support).
type loraClientReport struct {
	Client  string   `json:"client"`
	Checked bool     `json:"checked"`
	Loads   bool     `json:"loads"`
	Dropped []string `json:"dropped,omitempty"`
	Note    string   `json:"note"`
}

func inspectLoRA(p string) (*loraReport, error) {
	a, format, warnings, err := lora.Load(p, nil)
	if err != nil {
		return nil, err
	}
	rep := &loraReport{Path: p, Format: string(format), Targets: len(a.Layers), Params: a.NumParams(), Warnings: warnings, Metadata: map[string]string{}}
	rep.Base = a.GuessBase()
	rep.Type = "lora"
	if a.IsLoKr() {
		rep.Type = "lokr"
		if f, ok := a.LoKrFactor(); ok {
			rep.Factor = &f
		}
		full, low := false, false
		for _, m := range a.Modules() {
			for _, p := range a.Layers[m] {
				full, low = full || p.Rank == 0, low || p.Rank > 0
			}
		}
		rep.W2 = map[[2]bool]string{{true, false}: "full", {false, true}: "low-rank", {true, true}: "full and low-rank"}[[2]bool{full, low}]
	}
	for _, c := range lora.Compatibility(a, format) {
		rep.Clients = append(rep.Clients, loraClientReport{Client: string(c.Client), Checked: c.Checked, Loads: c.Loads, Dropped: c.Dropped, Note: c.Note})
	}
	for k, v := range a.Metadata {
		if k != "flora.config" && k != "lora_adapter_metadata" {
			rep.Metadata[k] = v
		}
	}
	groups := map[string]*loraGroupReport{}
	ranks := map[string]map[int]bool{}
	alphas := map[string]map[string]bool{}
	sumSq := map[string]float64{}
	for _, m := range a.Modules() {
		g := layerGroupOf(m)
		gr, ok := groups[g]
		if !ok {
			gr = &loraGroupReport{Group: g}
			groups[g] = gr
			ranks[g], alphas[g] = map[int]bool{}, map[string]bool{}
		}
		gr.Layers++
		for _, p := range a.Layers[m] {
			ranks[g][p.Rank] = true
			alphas[g][fmt.Sprintf("%g", p.Alpha)] = true
			gr.Params += int64(len(p.Up) + len(p.Down))
			if p.LoKr != nil {
				gr.Params += int64(len(p.LoKr.W1) + len(p.LoKr.W2) + len(p.LoKr.W2A) + len(p.LoKr.W2B))
			}
		}
		n := a.UpdateNorm(m) // the layer's whole update, parallel parts included
		sumSq[g] += n * n
		gr.NormMax = max(gr.NormMax, n)
	}
	for g, gr := range groups {
		for r := range ranks[g] {
			gr.Ranks = append(gr.Ranks, r)
		}
		sort.Ints(gr.Ranks)
		for a := range alphas[g] {
			gr.Alphas = append(gr.Alphas, a)
		}
		sort.Strings(gr.Alphas)
		gr.NormRMS = sqrtF(sumSq[g] / float64(gr.Layers))
		rep.Groups = append(rep.Groups, *gr)
	}
	sort.Slice(rep.Groups, func(i, j int) bool { return rep.Groups[i].Group < rep.Groups[j].Group })
	return rep, nil
}

func loraInspectCmd(fs *pflag.FlagSet) func([]string) error {
	asJSON := fs.Bool("json", false, "print JSON")
	return func(args []string) error {
		if len(args) != 1 {
			return usageErrorf("expected one LoRA file")
		}
		rep, err := inspectLoRA(args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cliOut, rep)
		}
		fmt.Fprintf(cliOut, "File:       %s\nFormat:     %s\n", rep.Path, rep.Format)
		if rep.Type == "lokr" {
			factor := "not a LyCORIS factorization"
			if rep.Factor != nil {
				factor = fmt.Sprintf("factor %d", *rep.Factor)
			}
			fmt.Fprintf(cliOut, "Type:       LoKr (%s, lokr_w2 %s; rank 0 = whole w2)\n", factor, rep.W2)
		}
		fmt.Fprintf(cliOut, "Base model: %s\nTargets:    %d layers\nParameters: %d (%s)\n",
			rep.Base, rep.Targets, rep.Params, humanCount(rep.Params))
		t := tablewriter.NewWriter(cliOut)
		t.Header([]string{"group", "layers", "rank", "alpha", "params", "update norm rms", "update norm max"})
		for _, g := range rep.Groups {
			t.Append([]string{g.Group, fmt.Sprint(g.Layers), joinInts(g.Ranks), strings.Join(g.Alphas, ","), fmt.Sprint(g.Params),
				fmt.Sprintf("%.4g", g.NormRMS), fmt.Sprintf("%.4g", g.NormMax)})
		}
		if err := t.Render(); err != nil {
			return err
		}
		if err := writeClientTable(rep); err != nil {
			return err
		}
		for _, w := range rep.Warnings {
			fmt.Fprintf(cliOut, "warning: %s\n", w)
		}
		printMetadata(cliOut, rep.Metadata)
		return nil
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func sqrtF(x float64) float64 {
	if x <= 0 {
		return 0
	}
	z := x
	for i := 0; i < 60; i++ {
		z = (z + x/z) / 2
	}
	return z
}

func loraConvertCmd(fs *pflag.FlagSet) func([]string) error {
	to := fs.String("to", "", "target format: comfy, diffusers or kohya (required)")
	out := fs.String("out", "", "output file (required)")
	return func(args []string) error {
		if len(args) != 1 || *out == "" || *to == "" {
			return usageErrorf("expected IN, --to and --out")
		}
		format, err := lora.ParseFormat(*to)
		if err != nil {
			return usageErrorf("%v", err)
		}
		a, from, err := loadLoRAInto(args[0], *out)
		if err != nil {
			return err
		}
		if err := saveRewritten(args[0], a, from, *out, a, format); err != nil {
			return err
		}
		for _, w := range lora.CompatibilityWarnings(a, format) {
			fmt.Fprintf(cliErr, "warning: %s: %s\n", *out, w)
		}
		fmt.Fprintf(cliOut, "%s (%s) → %s (%s): %d layers\n", args[0], from, *out, format, len(a.Layers))
		return nil
	}
}

// loadLoRAInto loads the adapter in, to be written to out: it checks that
// out does not overwrite in and prints the loader's warnings.
func loadLoRAInto(in, out string) (*lora.Adapter, lora.Format, error) {
	if err := fsutil.CheckOutput(out, in); err != nil {
		return nil, "", usageErrorf("--out %v", err)
	}
	a, from, warnings, err := lora.Load(in, nil)
	if err != nil {
		return nil, "", err
	}
	for _, w := range warnings {
		fmt.Fprintf(cliErr, "warning: %s\n", w)
	}
	return a, from, nil
}

// saveRewritten writes a to out in format to, with the metadata of the
// adapter orig read from in (format from) rewritten for it (see
// lora.RewriteMeta).
func saveRewritten(in string, orig *lora.Adapter, from lora.Format, out string, a *lora.Adapter, to lora.Format) error {
	meta, err := lora.RewriteMeta(in, orig, from)
	if err != nil {
		return err
	}
	return lora.Save(out, a, to, meta)
}

func loraResizeCmd(fs *pflag.FlagSet) func([]string) error {
	rank := fs.Int("rank", 0, "target rank (required)")
	out := fs.String("out", "", "output file (required)")
	to := fs.String("to", "", "output format (default: the input's)")
	return func(args []string) error {
		if len(args) != 1 || *out == "" || *rank < 1 {
			return usageErrorf("expected IN, --rank N >= 1 and --out")
		}
		a, from, err := loadLoRAInto(args[0], *out)
		if err != nil {
			return err
		}
		format := from
		if *to != "" {
			if format, err = lora.ParseFormat(*to); err != nil {
				return usageErrorf("%v", err)
			}
		}
		// A layer's rank is the sum over its parts (parallel q/k/v parts are
		// combined before the SVD). Resize only lowers ranks.
		largest := 0
		for _, parts := range a.Layers {
			r := 0
			for _, p := range parts {
				r += p.Rank
			}
			largest = max(largest, r)
		}
		if *rank > largest {
			return usageErrorf("--rank %d is above the rank of %s (largest layer: %d); resize only lowers the rank: give 1 to %d", *rank, args[0], largest, largest)
		}
		small, reps, err := lora.Resize(a, *rank)
		if err != nil {
			return err
		}
		lo, hi := *rank, 0
		for _, r := range reps {
			lo, hi = min(lo, r.To), max(hi, r.To)
		}
		type agg struct {
			n                        int
			sum, minVal, kept, total float64
		}
		groups := map[string]*agg{}
		for _, r := range reps {
			g := layerGroupOf(r.Module)
			if groups[g] == nil {
				groups[g] = &agg{minVal: 1}
			}
			groups[g].n++
			groups[g].sum += r.Energy
			groups[g].minVal = min(groups[g].minVal, r.Energy)
			groups[g].kept += r.Kept
			groups[g].total += r.Total
		}
		t := tablewriter.NewWriter(cliOut)
		t.Header([]string{"group", "layers", "energy kept", "layer mean", "layer min"})
		names := make([]string, 0, len(groups))
		for g := range groups {
			names = append(names, g)
		}
		sort.Strings(names)
		for _, g := range names {
			energy := 1.0 // Σ kept σ² / Σ σ² over the group's layers
			if groups[g].total > 0 {
				energy = groups[g].kept / groups[g].total
			}
			t.Append([]string{g, fmt.Sprint(groups[g].n), fmt.Sprintf("%.4f", energy), fmt.Sprintf("%.4f", groups[g].sum/float64(groups[g].n)), fmt.Sprintf("%.4f", groups[g].minVal)})
		}
		if err := t.Render(); err != nil {
			return err
		}
		if err := saveRewritten(args[0], a, from, *out, small, format); err != nil {
			return err
		}
		ranks := fmt.Sprintf("rank %d", hi)
		if lo != hi {
			ranks = fmt.Sprintf("ranks %d to %d", lo, hi)
		}
		fmt.Fprintf(cliOut, "wrote %s (%s, %s)\n", *out, ranks, format)
		return nil
	}
}

func loraMergeCmd(fs *pflag.FlagSet) func([]string) error {
	base := fs.String("base", "", "base model: official .safetensors file, diffusers model folder or embedded:tiny (required)")
	loras := fs.StringArray("lora", nil, "adapter FILE[:scale] (repeatable, required)")
	out := fs.String("out", "", "output .safetensors file, or for a diffusers base a model folder to create (required)")
	be := fs.String("backend", "", "backend (default auto)")
	return func(args []string) error {
		if len(args) != 0 || *base == "" || len(*loras) == 0 || *out == "" {
			return usageErrorf("expected --base, at least one --lora and --out")
		}
		specs, err := parseLoRASpecs("--lora", *loras)
		if err != nil {
			return err
		}
		if bundle.IsEmbedded(*base) && !strings.HasSuffix(*out, ".safetensors") {
			return usageErrorf("--out %s: a merge into %s is written as one official-layout file: give --out FILE.safetensors (or export the model first: flora model export %s --layout diffusers --out DIR, and merge into DIR)", *out, *base, *base)
		}
		if err := checkMergeOutput(*base, *out, specs); err != nil {
			return err
		}
		b, info, err := backend.Select(*be)
		if err != nil {
			return err
		}
		fmt.Fprintln(cliErr, info)
		m, baseMD, layout, err := mergeBase(b, *base)
		if err != nil {
			return err
		}
		for _, spec := range specs {
			p, scale := spec.Path, spec.Scale
			a, _, warnings, err := lora.Load(p, &m.Config)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintf(cliErr, "warning: %s: %s\n", p, w)
			}
			if err := lora.Merge(m, a, scale); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		md := lora.MergedMetadata(baseMD, *loras)
		target := *out
		if layout == flux2.LayoutDiffusers && !strings.HasSuffix(*out, ".safetensors") {
			// A diffusers model folder: OUT/transformer/ (as the base) with
			// the base's config.json, loadable by from_pretrained.
			if target, err = diffusersMergeFolder(*base, *out); err != nil {
				return err
			}
		}
		if err := m.SaveCheckpoint(target, layout, md); err != nil {
			return err
		}
		fmt.Fprintf(cliOut, "wrote %s (%s layout, %d adapters merged)\n", *out, layout, len(*loras))
		return nil
	}
}

// writeClientTable prints which tools load the file: all its layers, some
// (those dropped named), none, or not checked.
func writeClientTable(rep *loraReport) error {
	fmt.Fprintln(cliOut, "Loads in:")
	t := tablewriter.NewWriter(cliOut)
	t.Header([]string{"client", "layers applied", "note"})
	for _, c := range rep.Clients {
		applied := "—"
		switch {
		case !c.Checked:
		case !c.Loads:
			applied = "none (refused)"
		case len(c.Dropped) == 0:
			applied = fmt.Sprintf("all %d", rep.Targets)
		default:
			applied = fmt.Sprintf("%d of %d", rep.Targets-len(c.Dropped), rep.Targets)
		}
		t.Append([]string{c.Client, applied, c.Note})
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, c := range rep.Clients {
		if len(c.Dropped) > 0 {
			fmt.Fprintf(cliOut, "%s drops: %s\n", c.Client, strings.Join(c.Dropped, ", "))
		}
	}
	return nil
}
