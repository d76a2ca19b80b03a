package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
)

// TestLoRACompatibilityReport: for an adapter of every layer, `lora
// inspect` reports the six layers diffusers drops from its kohya file, and
// `lora convert --to kohya` warns about them while `--to diffusers` warns
// only that ComfyUI drops the 19 FLUX.2-only layers of a diffusers file.
func TestLoRACompatibilityReport(t *testing.T) {
	cfg := flux2.TinyConfig()
	targets, err := lora.Spec{Preset: lora.PresetAll, Rank: 2}.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "all.safetensors")
	if err := lora.Save(src, lora.NewAdapter(targets, 1), lora.FormatComfy, lora.Meta{Variant: flux2.Variant{Name: "tiny", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	kohya := filepath.Join(dir, "all.kohya.safetensors")
	code, _, errs := runCLI(t, "lora", "convert", src, "--to", "kohya", "--out", kohya)
	if code != 0 || !strings.Contains(errs, "warning: "+kohya+": diffusers drops 6 of the") {
		t.Errorf("convert --to kohya: exit %d, stderr %q", code, errs)
	}
	diff := filepath.Join(dir, "all.diffusers.safetensors")
	code, _, errs = runCLI(t, "lora", "convert", src, "--to", "diffusers", "--out", diff)
	if code != 0 || strings.Count(errs, "warning") != 1 || !strings.Contains(errs, "warning: "+diff+": ComfyUI drops 19 of the 31 layers") {
		t.Errorf("convert --to diffusers: exit %d, stderr %q", code, errs)
	}
	code, out, errs := runCLI(t, "lora", "inspect", "--json", kohya)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errs)
	}
	var rep loraReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Clients) != 3 || rep.Clients[1].Client != "diffusers" || len(rep.Clients[1].Dropped) != 6 || !rep.Clients[0].Loads {
		t.Errorf("clients %+v", rep.Clients)
	}
	code, out, _ = runCLI(t, "lora", "inspect", kohya)
	if code != 0 || !strings.Contains(out, "25 of 31") || !strings.Contains(out, "diffusers drops: double_stream_modulation_img.lin") {
		t.Errorf("inspect table:\n%s", out)
	}
}
