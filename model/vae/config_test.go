package vae

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestParamCounts checks the presets against the counts computed from the
// published checkpoint and the diffusers tiny test model (flux2-spec.md
// §4.6, §4.7, §8.2) and the official tiny fixture's 126 tensors.
func TestParamCounts(t *testing.T) {
	pipelineTiny := Config{InChannels: 3, OutChannels: 3, Ch: 4, ChMult: []int{1}, NumResBlocks: 1, ZChannels: 1,
		Groups: 1, MidAttention: true, PatchSize: [2]int{2, 2}, NormEps: GroupNormEpsilon, BatchNormEps: BatchNormEpsilon}
	tests := []struct {
		name           string
		cfg            Config
		params, stats  int64
		tensors        int
		encoderParams  int64
		latentChannels int
	}{
		{"published", FLUX2Config(), 84_046_115, 256, 250, 34_425_856, 128},
		// The fixture file holds 658,408 elements: these plus bn.num_batches_tracked.
		{"official-tiny", OfficialTinyConfig(), 658_375, 32, 126, -1, 16},
		{"diffusers-pipeline-tiny", pipelineTiny, 2_713, 8, -1, 1_218, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			params, stats := tc.cfg.NumParams()
			if params != tc.params || stats != tc.stats {
				t.Errorf("NumParams = %d + %d stats, want %d + %d", params, stats, tc.params, tc.stats)
			}
			if tc.tensors >= 0 && len(tc.cfg.ParamShapes()) != tc.tensors {
				t.Errorf("%d tensors, want %d", len(tc.cfg.ParamShapes()), tc.tensors)
			}
			if tc.encoderParams >= 0 {
				var enc int64
				for name, s := range tc.cfg.ParamShapes() {
					if strings.HasPrefix(name, "encoder.") {
						n := int64(1)
						for _, d := range s {
							n *= int64(d)
						}
						enc += n
					}
				}
				if enc != tc.encoderParams {
					t.Errorf("encoder has %d parameters, want %d", enc, tc.encoderParams)
				}
			}
			if got := tc.cfg.LatentChannels(); got != tc.latentChannels {
				t.Errorf("LatentChannels = %d, want %d", got, tc.latentChannels)
			}
		})
	}
}

// TestPublishedShapesMatchKeyList compares ParamShapes with the expanded
// ae.safetensors tensor list (250 entries; testdata/flux2-vae-keys.txt, a
// copy of shared/reference/flux2-vae-keys.txt).
func TestPublishedShapesMatchKeyList(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "flux2-vae-keys.txt"))
	if err != nil {
		t.Fatalf("key list: %v", err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") { // "#count 250 numel 84046371"
			continue
		}
		name, shape, _ := strings.Cut(line, " ")
		want[name] = shape
	}
	got := FLUX2Config().ParamShapes()
	if len(got) != len(want) {
		t.Errorf("%d tensors, key list has %d", len(got), len(want))
	}
	for name, dims := range got {
		parts := make([]string, len(dims))
		for i, d := range dims {
			parts[i] = strconv.Itoa(d)
		}
		if s := "[" + strings.Join(parts, ", ") + "]"; want[name] != s {
			t.Errorf("%s: %s, key list says %q", name, s, want[name])
		}
	}
}

// TestInferConfig reads architectures back from tensor shapes, in both
// layouts, including the small-decoder variant.
func TestInferConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"published", FLUX2Config()},
		{"small-decoder", SmallDecoderConfig()},
		{"official-tiny", OfficialTinyConfig()},
	} {
		for _, layout := range []Layout{LayoutOfficial, LayoutDiffusers} {
			t.Run(tc.name+"/"+layout.String(), func(t *testing.T) {
				src := shapeSource{}
				for name, dims := range tc.cfg.ParamShapes() {
					n, err := tc.cfg.nameOf(name, layout)
					if err != nil {
						t.Fatal(err)
					}
					if layout == LayoutDiffusers && isAttentionProjection(name) {
						dims = dims[:2]
					}
					src[n] = dims
				}
				src["bn.num_batches_tracked"] = []int{1}
				got, err := DetectLayout(src.Names())
				if err != nil || got != layout {
					t.Fatalf("DetectLayout = %v, %v", got, err)
				}
				cfg, err := InferConfig(src, layout)
				if err != nil {
					t.Fatal(err)
				}
				if !cfg.Equal(tc.cfg) {
					t.Errorf("inferred %+v, want %+v", cfg, tc.cfg)
				}
				if _, lerr := planLoad(cfg, src, layout, false); lerr != nil {
					t.Errorf("planLoad: %v", lerr)
				}
			})
		}
	}
}

// shapeSource is a TensorSource of shapes only.
type shapeSource map[string][]int

func (s shapeSource) Names() []string { return slices.Sorted(maps.Keys(s)) }

func (s shapeSource) Dims(name string) ([]int, bool) {
	d, ok := s[name]
	return d, ok
}

func (s shapeSource) ReadAs(name string, _ dtypes.DType) (*tensors.Tensor, error) {
	return nil, fmt.Errorf("shapeSource has no data for %s", name)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no levels", func(c *Config) { c.ChMult = nil }, "ChMult"},
		{"groups", func(c *Config) { c.Groups = 48 }, "not divisible into 48 GroupNorm groups"},
		{"zero z", func(c *Config) { c.ZChannels = 0 }, "ZChannels"},
		{"huge", func(c *Config) { c.Ch = 1 << 20 }, "Ch must be in"},
		{"eps", func(c *Config) { c.NormEps = 0 }, "NormEps"},
	} {
		c := FLUX2Config()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestParseDiffusersConfig(t *testing.T) {
	// The published diffusers vae/config.json fields (FLUX.2-dev).
	published := `{"_class_name": "AutoencoderKLFlux2", "act_fn": "silu", "batch_norm_eps": 0.0001,
		"batch_norm_momentum": 0.1, "block_out_channels": [128, 256, 512, 512],
		"down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
		"force_upcast": true, "in_channels": 3, "latent_channels": 32, "layers_per_block": 2,
		"mid_block_add_attention": true, "norm_num_groups": 32, "out_channels": 3, "patch_size": [2, 2],
		"sample_size": 1024, "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
		"use_post_quant_conv": true, "use_quant_conv": true}`
	c, err := ParseDiffusersConfig([]byte(published))
	if err != nil || !c.Equal(FLUX2Config()) {
		t.Errorf("published config: %+v, %v", c, err)
	}
	small := `{"block_out_channels": [128, 256, 512, 512], "decoder_block_out_channels": [96, 192, 384, 384]}`
	if c, err := ParseDiffusersConfig([]byte(small)); err != nil || !c.Equal(SmallDecoderConfig()) {
		t.Errorf("small decoder config: %+v, %v", c, err)
	}
	for _, bad := range []string{
		`{"_class_name": "AutoencoderKL"}`,
		`{"act_fn": "gelu"}`,
		`{"block_out_channels": [128, 200]}`,
		`{"decoder_block_out_channels": [96, 200, 384, 384]}`,
		`{"up_block_types": ["AttnUpDecoderBlock2D"]}`,
		`{"norm_num_groups": 7}`,
		`not json`,
	} {
		if _, err := ParseDiffusersConfig([]byte(bad)); err == nil {
			t.Errorf("ParseDiffusersConfig(%s) accepted", bad)
		}
	}
}
