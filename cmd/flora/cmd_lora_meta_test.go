package main

import (
	"maps"
	"path/filepath"
	"sort"
	"testing"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// headerOf reads a safetensors file's metadata.
func headerOf(t *testing.T, path string) map[string]string {
	t.Helper()
	return maps.Clone(weightstest.Open(t, path).Metadata())
}

// checkHeader compares a header with want key by key ("*": any value).
func checkHeader(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		g, inGot := got[k]
		w, inWant := want[k]
		switch {
		case !inWant:
			t.Errorf("%s: %s = %q was added", what, k, shorten(g, 60))
		case !inGot:
			t.Errorf("%s: %s (%q) was lost", what, k, shorten(w, 60))
		case w != "*" && g != w:
			t.Errorf("%s: %s = %q, want %q", what, k, shorten(g, 60), shorten(w, 60))
		}
	}
}

// TestLoRAConvertResizeKeepMetadata: lora convert and resize keep every key
// of the input's header that is still true, update only what changed (the
// naming, rank and alpha after a resize, the PEFT config, the fingerprints of
// the tensor bytes) and never add training facts to a file Flora did not
// train — for a Flora-trained file, the official fixture (its own
// format/rank/alpha keys) and a kohya file.
func TestLoRAConvertResizeKeepMetadata(t *testing.T) {
	official := needFixture(t, "lora.safetensors")
	dir := t.TempDir()
	a, _, _, err := lora.Load(official, nil)
	if err != nil {
		t.Fatal(err)
	}
	trained := filepath.Join(dir, "trained.safetensors")
	if err := lora.Save(trained, a, lora.FormatComfy, lora.Meta{
		Variant:  flux2.Variant{Name: "embedded-tiny", Config: flux2.TinyConfig(), ArchTag: "flux2_tiny"},
		BaseHash: "base123", Trigger: "flora style", Steps: 150, Targets: "all", Config: "name: demo\n", Title: "demo"}); err != nil {
		t.Fatal(err)
	}
	// A kohya file: the fixture's tensors under kohya names with the
	// header kohya's trainer writes.
	kohya := filepath.Join(dir, "kohya.safetensors")
	if code, _, errs := runCLI(t, "lora", "convert", official, "--to", "kohya", "--out", filepath.Join(dir, "k0.safetensors")); code != 0 {
		t.Fatal(errs)
	}
	weightstest.WriteAs(t, filepath.Join(dir, "k0.safetensors"), kohya, func(string) weights.DType { return weights.F32 }, map[string]string{
		"ss_network_module": "networks.lora_flux_2", "ss_network_dim": "4", "ss_network_alpha": "8.0", "ss_steps": "1200",
		"ss_epoch": "3", "ss_training_comment": "my run", "ss_base_model_version": "flux2_tiny", "sshs_model_hash": "abc",
		"sshs_legacy_hash": "def", "modelspec.title": "kohya run"})

	tests := []struct {
		name string
		src  string
		args []string
		// diff is how the output header differs from the input's: a value
		// ("*": any), or "" for a key that must be gone.
		diff map[string]string
	}{
		// The diffusers file folds alpha/rank into B: its alpha is the rank.
		{"trained to diffusers", trained, []string{"convert", "--to", "diffusers"},
			map[string]string{"flora.format": "diffusers", "flora.alpha": "4", "ss_network_alpha": "4", "lora_adapter_metadata": "*"}},
		{"trained to kohya", trained, []string{"convert", "--to", "kohya"}, map[string]string{"flora.format": "kohya"}},
		{"trained resized", trained, []string{"resize", "--rank", "2"},
			map[string]string{"flora.rank": "2", "flora.alpha": "2", "ss_network_dim": "2", "ss_network_alpha": "2"}},
		{"official to diffusers", official, []string{"convert", "--to", "diffusers"},
			map[string]string{"format": "pt", "alpha": "4", "flora.format": "diffusers", "flora.rank": "4", "flora.alpha": "4", "flora.layers": "20",
				"ss_network_dim": "4", "ss_network_alpha": "4", "lora_adapter_metadata": "*"}},
		{"official to comfy", official, []string{"convert", "--to", "comfy"},
			map[string]string{"flora.format": "comfy", "flora.rank": "4", "flora.alpha": "8", "flora.layers": "20",
				"ss_network_dim": "4", "ss_network_alpha": "8"}},
		{"official resized", official, []string{"resize", "--rank", "2"},
			map[string]string{"rank": "2", "alpha": "2", "flora.format": "comfy", "flora.rank": "2", "flora.alpha": "2", "flora.layers": "20",
				"ss_network_dim": "2", "ss_network_alpha": "2"}},
		{"kohya to comfy", kohya, []string{"convert", "--to", "comfy"},
			map[string]string{"sshs_model_hash": "", "sshs_legacy_hash": "", "format": "pt", "flora.format": "comfy", "flora.rank": "4",
				"flora.alpha": "8", "flora.layers": "20"}},
		{"kohya resized", kohya, []string{"resize", "--rank", "2"},
			map[string]string{"sshs_model_hash": "", "sshs_legacy_hash": "", "format": "pt", "flora.format": "kohya", "flora.rank": "2",
				"flora.alpha": "2", "flora.layers": "20", "ss_network_dim": "2", "ss_network_alpha": "2"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out"+string(rune('a'+i))+".safetensors")
			args := append([]string{"lora", tc.args[0], tc.src}, tc.args[1:]...)
			if code, _, errs := runCLI(t, append(args, "--out", out)...); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errs)
			}
			want := headerOf(t, tc.src)
			for k, v := range tc.diff {
				if v == "" {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			checkHeader(t, tc.name, headerOf(t, out), want)
			if b, _, _, err := lora.Load(out, nil); err != nil || len(b.Layers) != 20 {
				t.Errorf("output: %v", err)
			}
		})
	}
}

// TestLoRAMergeKeepsBaseMetadata: the merged checkpoint keeps the base's
// header (the official file's "bfl" format tag and its config) and names
// the merged adapter.
func TestLoRAMergeKeepsBaseMetadata(t *testing.T) {
	base, file := needFixture(t, "transformer.safetensors"), needFixture(t, "lora.safetensors")
	out := filepath.Join(t.TempDir(), "merged.safetensors")
	if code, _, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", base, "--lora", file+":0.5", "--out", out); code != 0 {
		t.Fatalf("merge exit %d: %s", code, errs)
	}
	want := headerOf(t, base)
	if want["format"] != "bfl" || want["config"] == "" {
		t.Fatalf("fixture header changed: %v", want)
	}
	want["flora.merged_loras"] = file + ":0.5"
	checkHeader(t, "merged", headerOf(t, out), want)
}
