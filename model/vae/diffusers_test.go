package vae

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// loadDiffusersFolder reads a diffusers vae/ folder written by
// tools/reference/flux2_vae.py with its config.json.
func loadDiffusersFolder(t *testing.T, name string, useConfig bool) (*VAE, error) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "diffusers", name, "vae")
	src := testutil.MapSource(weightstest.ReadF32(t, filepath.Join(dir, "diffusion_pytorch_model.safetensors")))
	var opts Options
	if useConfig {
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseDiffusersConfig(data)
		if err != nil {
			t.Fatal(err)
		}
		opts.Config = &cfg
	}
	return Load(testutil.Backend(t), src, dir, opts)
}

// TestDiffusersParity loads diffusers-layout folders saved by diffusers'
// own save_pretrained and checks encode and decode against the Flux2
// pipeline's encode/decode paths.
func TestDiffusersParity(t *testing.T) {
	tests := []struct {
		name string
		want Config
	}{
		{"flux2-tiny-vae", Config{InChannels: 3, OutChannels: 3, Ch: 16, ChMult: []int{1, 2}, NumResBlocks: 1, ZChannels: 4,
			DecoderCh: 8, Groups: 4, QuantConv: true, PostQuantConv: true, MidAttention: true, PatchSize: [2]int{2, 2},
			NormEps: GroupNormEpsilon, BatchNormEps: BatchNormEpsilon}},
		{"flux2-tiny-vae-pipeline", Config{InChannels: 3, OutChannels: 3, Ch: 4, ChMult: []int{1}, NumResBlocks: 1, ZChannels: 1,
			Groups: 1, MidAttention: true, PatchSize: [2]int{2, 2}, NormEps: GroupNormEpsilon, BatchNormEps: BatchNormEpsilon}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := loadDiffusersFolder(t, tc.name, true)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Config.Equal(tc.want) {
				t.Fatalf("config %+v, want %+v", v.Config, tc.want)
			}
			io := weightstest.ReadF32(t, filepath.Join("..", "..", "testdata", "diffusers", tc.name, "io.safetensors"))
			checkEncodeDecode(t, v, io, "diffusers")
		})
	}
}

// TestDiffusersInferenceWithoutConfig: without config.json the weights give
// everything but the GroupNorm group count, which defaults to 32 — valid
// for the (16, 32) model but wrong (groups 4), and impossible for the
// 4-channel pipeline model, which must fail with a pointer to the fix.
func TestDiffusersInferenceWithoutConfig(t *testing.T) {
	v, err := loadDiffusersFolder(t, "flux2-tiny-vae", false)
	if err == nil {
		t.Fatalf("loaded with config %+v; 8-channel decoder levels cannot have 32 groups", v.Config)
	}
	if !strings.Contains(err.Error(), "GroupNorm") || !strings.Contains(err.Error(), "config") {
		t.Errorf("error does not explain the group count: %v", err)
	}
	_, err = loadDiffusersFolder(t, "flux2-tiny-vae-pipeline", false)
	if err == nil || !strings.Contains(err.Error(), "has 4 channels, not divisible into 32 GroupNorm groups") {
		t.Errorf("want a group-count error, got %v", err)
	}
}
