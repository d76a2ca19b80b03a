package lora

import (
	"fmt"
	"path"
	"strings"
)

// Which of an adapter's layers the usual loaders of each file format apply,
// as checked with the clients themselves (README "Using the adapter";
// tools/reference/flux2_lora.py). Only what was checked is claimed: other
// client/format pairs say so.

// Client is a family of tools that load LoRA files.
type Client string

// The clients Flora's files are made for.
const (
	ClientComfyUI   Client = "ComfyUI"
	ClientDiffusers Client = "diffusers"
	ClientKohya     Client = "kohya-based tools"
)

// Clients lists the clients in report order.
var Clients = []Client{ClientComfyUI, ClientDiffusers, ClientKohya}

// Support is what one client does with a file of one format.
type Support struct {
	Client Client
	// Checked is false where no check with the client backs the verdict
	// (Loads and Dropped then describe nothing).
	Checked bool
	// Loads is false when the client refuses the file.
	Loads bool
	// Dropped lists the adapter's modules (official paths) the client's
	// loader leaves out, with a warning at best.
	Dropped []string
	// Note says how the verdict was reached or what to do instead.
	Note string
}

// kohyaDroppedByDiffusers are the official module patterns diffusers'
// kohya converter (0.42.1) has no mapping for: it drops them with an
// "Unsupported keys" warning and applies the rest.
var kohyaDroppedByDiffusers = []string{"guidance_in.*", "double_stream_modulation_*.*", "single_stream_modulation.*", "final_layer.adaLN_modulation.*"}

// diffusersDroppedByComfyUI are the official module patterns ComfyUI
// (0.8.0, commit 3cd7b32) drops from a diffusers-named file: it maps FLUX.2
// diffusers names through its FLUX.1 diffusers key map, which knows the
// double blocks' attention, x_embedder, context_embedder, proj_out and
// norm_out.linear but not FLUX.2's feed-forward (ff.linear_in/out), single
// blocks (attn.to_qkv_mlp_proj, attn.to_out), time_guidance_embed or
// modulation names; it logs "lora key not loaded" for those and applies
// the rest (tools/reference/comfyui_check.py, comfyui_check.json).
var diffusersDroppedByComfyUI = []string{"double_blocks.*.img_mlp.*", "double_blocks.*.txt_mlp.*", "single_blocks.*",
	"time_in.*", "guidance_in.*", "double_stream_modulation_*.*", "single_stream_modulation.*"}

// clientRule is what a check with a client found for one file format:
// whether it loads the file, which module patterns it drops, a note, and
// what to do when the adapter has modules it drops.
type clientRule struct {
	loads     bool
	dropped   []string
	note      string
	ifDropped string
}

// clientRules holds every checked client/format pair; other pairs are
// "not checked" (or, with a note only, described but not run).
var clientRules = map[Format]map[Client]clientRule{
	FormatComfy: {
		ClientComfyUI:   {loads: true, note: "ComfyUI's own loader: every module"},
		ClientDiffusers: {note: "diffusers' converter refuses the .alpha keys: use the diffusers file"},
	},
	FormatKohya: {
		ClientComfyUI:   {loads: true, note: "ComfyUI's own loader: every module"},
		ClientDiffusers: {loads: true, dropped: kohyaDroppedByDiffusers, note: "diffusers' kohya converter", ifDropped: ": use the diffusers file for these layers"},
	},
	FormatDiffusers: {
		ClientComfyUI:   {loads: true, dropped: diffusersDroppedByComfyUI, note: "ComfyUI's FLUX.1 diffusers key map", ifDropped: ": use the ComfyUI (or kohya) file"},
		ClientDiffusers: {loads: true, note: "every module, through every diffusers path"},
	},
}

// lokrRules are the verdicts for LoKr adapters, which only the official
// (comfy) and kohya namings hold: ComfyUI 0.8.0's LoKrAdapter
// (comfy/weight_adapter/lokr.py) reads lokr_w1, lokr_w2 or lokr_w2_a/b and
// alpha under any key its map gives the layer — diffusion_model.<module>
// and lora_unet_<module> alike — with ΔW = (alpha/rank)·kron(W1, W2), scale
// 1 for a whole W2, what Flora computes: run on a comfy-named export (its
// load_lora with the generic diffusion_model.<module> key map, then
// calculate_weight), every layer loaded and ΔW within 1.5e-6 of flora lora
// merge; the kohya naming was read from its source, not run.
// diffusers 0.42.1 converts the official LoKr naming
// (_convert_non_diffusers_flux2_lokr_to_diffusers) but not kohya's; not run.
var lokrRules = map[Format]map[Client]string{
	FormatComfy: {ClientComfyUI: "ComfyUI's LoKr loader: every module (comfy.lora.load_lora + LoKrAdapter.calculate_weight run on a trained tiny export: ΔW within 1.5e-6 of flora lora merge)",
		ClientDiffusers: "diffusers 0.42.1's Flux2 LoKr converter reads this naming (from its source; not run)"},
	FormatKohya: {ClientComfyUI: "ComfyUI's LoKr loader reads lokr_w1/lokr_w2(_a/_b)/alpha on lora_unet_ names (from its source; not run)",
		ClientDiffusers: "diffusers 0.42.1 has no LoKr converter for lora_unet_ names: use the comfy file"},
	FormatDiffusers: {ClientComfyUI: "Flora writes no diffusers-named LoKr file", ClientDiffusers: "Flora writes no diffusers-named LoKr file: use the comfy file"},
}

// uncheckedNotes describe pairs no check ran.
var uncheckedNotes = map[Format]map[Client]string{
	FormatKohya: {ClientKohya: "the kohya/musubi naming these tools write (not run here)"},
}

// Compatibility says, for each client, whether it loads a file of format f
// holding a, and which of a's modules it drops. For a LoKr adapter no pair
// was run with the client: every verdict is unchecked, with a note of what
// the client's source says (lokrRules).
func Compatibility(a *Adapter, f Format) []Support {
	out := make([]Support, 0, len(Clients))
	if a.IsLoKr() {
		for _, c := range Clients {
			s := Support{Client: c, Note: "not checked"}
			if n, ok := lokrRules[f][c]; ok {
				s.Note = n
			}
			if f == FormatComfy && c == ClientComfyUI {
				s.Checked, s.Loads = true, true
			}
			out = append(out, s)
		}
		return out
	}
	for _, c := range Clients {
		s := Support{Client: c, Note: "not checked"}
		if r, ok := clientRules[f][c]; ok {
			s.Checked, s.Loads, s.Note = true, r.loads, r.note
			if len(r.dropped) > 0 {
				s.Dropped = matching(a, r.dropped)
			}
			if len(s.Dropped) > 0 {
				s.Note += r.ifDropped
			}
		} else if n, ok := uncheckedNotes[f][c]; ok {
			s.Note = n
		}
		out = append(out, s)
	}
	return out
}

// matching returns a's modules that match any of the path patterns.
func matching(a *Adapter, patterns []string) []string {
	var out []string
	for _, m := range a.Modules() {
		for _, p := range patterns {
			if ok, _ := path.Match(p, m); ok {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// CompatibilityWarnings are the warnings for files holding a in the given
// formats (a run's exports, or one converted file): one per checked client
// that no file serves whole — it refuses them, or drops some modules of
// each. Unchecked pairs give no warning.
func CompatibilityWarnings(a *Adapter, formats ...Format) []string {
	var out []string
	for i, c := range Clients {
		var worst []string
		served := false
		for _, f := range formats {
			s := Compatibility(a, f)[i]
			switch {
			case !s.Checked:
			case s.Loads && len(s.Dropped) == 0:
				served = true
			case !s.Loads:
				worst = append(worst, fmt.Sprintf("%s does not load %s files (%s)", c, f, s.Note))
			default:
				worst = append(worst, fmt.Sprintf("%s drops %d of the %d layers of a %s file (%s) — %s",
					c, len(s.Dropped), len(a.Layers), f, strings.Join(s.Dropped, ", "), s.Note))
			}
		}
		if !served {
			out = append(out, worst...)
		}
	}
	return out
}
