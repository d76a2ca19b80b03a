package flux2

import (
	"strings"
	"testing"
)

// TestResolveVariant: one rule names every checkpoint — a requested name
// must match the architecture; klein base and distilled (same shapes) are
// told apart by Black Forest Labs' file and folder names, base when the
// name does not say; unknown shapes are custom.
func TestResolveVariant(t *testing.T) {
	k4, _ := VariantByName("klein-4b")
	k9, _ := VariantByName("klein-9b")
	dev, _ := VariantByName("dev")
	odd := TinyConfig()
	odd.Depth = 5
	cases := []struct {
		name      string
		cfg       Config
		requested string
		source    string
		want      string
		wantErr   string
	}{
		{"base file", k4.Config, "auto", "/m/flux-2-klein-base-4b.safetensors", "klein-base-4b", ""},
		{"distilled file", k4.Config, "", "/m/flux-2-klein-4b.safetensors", "klein-4b", ""},
		{"diffusers distilled folder", k9.Config, "auto", "/m/FLUX.2-klein-9B/transformer/diffusion_pytorch_model.safetensors", "klein-9b", ""},
		{"diffusers base folder", k9.Config, "auto", "/m/FLUX.2-klein-base-9B/transformer/diffusion_pytorch_model.safetensors", "klein-base-9b", ""},
		{"folder above the model does not count", k4.Config, "auto", "/base_models/flux-2-klein-4b.safetensors", "klein-4b", ""},
		{"name says nothing: base", k4.Config, "auto", "/m/model.safetensors", "klein-base-4b", ""},
		{"requested distilled", k4.Config, "klein-4b", "/m/flux-2-klein-base-4b.safetensors", "klein-4b", ""},
		{"dev", dev.Config, "auto", "/m/flux2-dev.safetensors", "dev", ""},
		{"tiny", TinyConfig(), "", "x.safetensors", "tiny", ""},
		{"custom", odd, "auto", "x.safetensors", CustomVariantName, ""},
		{"requested mismatch", TinyConfig(), "dev", "x.safetensors", "", "is not FLUX.2 dev"},
		{"unknown name", TinyConfig(), "klein-99b", "x.safetensors", "", "unknown FLUX.2 variant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ResolveVariant(tc.cfg, tc.requested, tc.source)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Name != tc.want || v.Config != tc.cfg {
				t.Errorf("got %s %+v, want %s", v.Name, v.Config, tc.want)
			}
		})
	}
}

// TestUsesCFG: only base (undistilled) models without a guidance embedder
// sample with classifier-free guidance.
func TestUsesCFG(t *testing.T) {
	want := map[string]bool{"dev": false, "klein-4b": false, "klein-9b": false, "klein-base-4b": true, "klein-base-9b": true, "tiny": false}
	for _, v := range Variants {
		if got := v.UsesCFG(); got != want[v.Name] {
			t.Errorf("%s: UsesCFG = %v, want %v", v.Name, got, want[v.Name])
		}
	}
	cfg := TinyConfig()
	cfg.GuidanceEmbed = false
	if CustomVariant(cfg).UsesCFG() {
		t.Error("a custom architecture uses CFG")
	}
}
