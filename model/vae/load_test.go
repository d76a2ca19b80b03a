package vae

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

func officialTinySource(t *testing.T) testutil.MapSource {
	t.Helper()
	return testutil.MapSource(weightstest.ReadF32(t, filepath.Join(testutil.ReferenceDir(t), "vae.safetensors")))
}

// TestLoadRefusesWrongFiles checks that broken or foreign files are refused
// with an error naming the file and every problem.
func TestLoadRefusesWrongFiles(t *testing.T) {
	published := FLUX2Config()
	tests := []struct {
		name string
		edit func(src testutil.MapSource)
		opts Options
		want []string
	}{
		{
			name: "broken",
			edit: func(src testutil.MapSource) {
				delete(src, "decoder.up.1.upsample.conv.bias")
				src["encoder.mid.attn_1.q.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 64*63), 64, 63, 1, 1)
				src["model.diffusion_model.img_in.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 4), 4)
			},
			want: []string{
				"broken.safetensors is not a loadable FLUX.2 autoencoder",
				"1 missing tensors:\n    decoder.up.1.upsample.conv.bias",
				"1 unexpected tensors:\n    model.diffusion_model.img_in.weight",
				"encoder.mid.attn_1.q.weight: [64 63 1 1], want [64 64 1 1]",
			},
		},
		{
			name: "another model's VAE",
			opts: Options{Config: &published},
			want: []string{"tensors with the wrong shape", "decoder.conv_in.weight: [64 4 3 3], want [512 32 3 3]",
				"the file holds another architecture: ch 32 × [1 2], 1 res blocks, z 4, decoder ch 32"},
		},
		{
			name: "wrong BatchNorm size",
			edit: func(src testutil.MapSource) {
				src["bn.running_mean"] = tensors.FromFlatDataAndDimensions(make([]float32, 12), 12)
			},
			want: []string{"BatchNorm has 12 channels, want 16"},
		},
		{
			name: "transformer file",
			edit: func(src testutil.MapSource) {
				for k := range src {
					delete(src, k)
				}
				src["double_blocks.0.img_attn.qkv.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 4), 2, 2)
			},
			want: []string{"no FLUX.2 autoencoder weights found"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := officialTinySource(t)
			if tc.edit != nil {
				tc.edit(src)
			}
			_, err := Load(testutil.Backend(t), src, "broken.safetensors", tc.opts)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "broken.safetensors") {
				t.Errorf("error does not name the file: %s", msg)
			}
			testutil.CheckContains(t, "error", msg, tc.want...)
		})
	}
	var le *LoadError
	src := officialTinySource(t)
	delete(src, "bn.running_var")
	if _, err := Load(testutil.Backend(t), src, "x", Options{Config: ptr(OfficialTinyConfig())}); !errors.As(err, &le) || len(le.Missing) != 1 {
		t.Errorf("want a *LoadError with one missing tensor, got %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestLoadPrefixedOfficial loads official names behind a repackaging prefix.
func TestLoadPrefixedOfficial(t *testing.T) {
	src := testutil.MapSource{}
	for k, v := range officialTinySource(t) {
		src["first_stage_model."+k] = v
	}
	v, err := Load(testutil.Backend(t), src, "prefixed", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if missing := v.MissingWeights(); len(missing) > 0 {
		t.Errorf("missing %v", missing)
	}
}

// TestInputValidation checks that bad Encode/Decode inputs are errors, not panics.
func TestInputValidation(t *testing.T) {
	v := loadOfficialTiny(t, ConvAuto)
	f32 := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		return tensors.FromFlatDataAndDimensions(make([]float32, n), dims...)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"channels", func() error { _, err := v.Encode(f32(1, 4, 16, 16)); return err }, "pixels must be float32 [B, 3, H, W]"},
		{"size", func() error { _, err := v.Encode(f32(1, 3, 16, 18)); return err }, "multiple of 4x4"},
		{"dtype", func() error {
			_, err := v.Encode(tensors.FromFlatDataAndDimensions(make([]float64, 48), 1, 3, 4, 4))
			return err
		}, "float32"},
		{"latent channels", func() error { _, err := v.Decode(f32(1, 32, 4, 4)); return err }, "latents must be float32 [B, 16, h, w]"},
		{"latent rank", func() error { _, err := v.Decode(f32(16, 4, 4)); return err }, "latents must be"},
	} {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestConvAutoOnPureGo: ConvAuto picks the matrix-product convolutions on
// the pure-Go backend.
func TestConvAutoOnPureGo(t *testing.T) {
	if _, ok := testutil.Backend(t).(*simplego.Backend); !ok {
		t.Skip("not the pure-Go backend")
	}
	v, err := New(testutil.Backend(t), OfficialTinyConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.ConvAlgorithm(); got != ConvGEMM {
		t.Errorf("ConvAuto resolved to %v on the pure-Go backend, want gemm", got)
	}
}
