package textenc

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

func loadFixture(t *testing.T, name string, layers []int) (*Encoder, *weights.File) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "textenc", name)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseHFConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := weights.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	enc, err := Load(testutil.Backend(t), ck, name, cfg, layers, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	io, err := weights.Open(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { io.Close() })
	return enc, io
}

func rows(t *testing.T, f *weights.File, name string) [][]int32 {
	t.Helper()
	v, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	d := v.Shape().Dimensions
	flat := tensors.MustCopyFlatData[int32](v)
	out := make([][]int32, d[0])
	for i := range out {
		out[i] = flat[i*d[1] : (i+1)*d[1]]
	}
	return out
}

func relL2(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / den)
}

// TestTransformersParity compares the stacked hidden states with
// transformers' (tools/reference/textenc.py): Qwen3 right-padded, Mistral3
// left-padded (its padded positions attend to nothing, so their attention
// output is zero as in PyTorch's SDPA), a Qwen3 deep enough for klein's
// layers (9, 18, 27), and a selection including the embedding output.
func TestTransformersParity(t *testing.T) {
	tests := []struct {
		model  string
		layers []int
		key    string
	}{
		{"qwen3-tiny", []int{1, 2, 3}, "embeds_1_2_3"},
		{"qwen3-tiny", []int{0, 2, 4}, "embeds_0_2_4"},
		{"qwen3-deep", []int{9, 18, 27}, "embeds_9_18_27"},
		{"mistral3-tiny", []int{1, 2, 3}, "embeds_1_2_3"},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.key, func(t *testing.T) {
			enc, io := loadFixture(t, tc.model, tc.layers)
			out, err := enc.Encode(rows(t, io, "ids"), rows(t, io, "mask"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := io.TensorAs(tc.key, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Shape().Equal(want.Shape()) {
				t.Fatalf("shape %v, want %v", out.Shape(), want.Shape())
			}
			e := relL2(tensors.MustCopyFlatData[float32](out), tensors.MustCopyFlatData[float32](want))
			t.Logf("relative L2 error %.3g", e)
			if e > 1e-4 {
				t.Errorf("relative L2 error %.3g > 1e-4", e)
			}
			if n := enc.Release(); n <= 0 {
				t.Errorf("Release freed %d bytes", n)
			}
			if _, err := enc.Encode(rows(t, io, "ids"), rows(t, io, "mask")); err == nil {
				t.Error("Encode after Release succeeded")
			}
		})
	}
}

// TestVariantLayerSets: each FLUX.2 variant stacks its own encoder's layers
// (diffusers' klein training script wrongly defaults to dev's 10/20/30).
func TestVariantLayerSets(t *testing.T) {
	for _, tc := range []struct {
		variant string
		family  string
		layers  [3]int
		width   int
	}{
		{"dev", "mistral", [3]int{10, 20, 30}, 15360},
		{"klein-4b", "qwen3", [3]int{9, 18, 27}, 7680},
		{"klein-9b", "qwen3", [3]int{9, 18, 27}, 12288},
		{"klein-base-4b", "qwen3", [3]int{9, 18, 27}, 7680},
		{"klein-base-9b", "qwen3", [3]int{9, 18, 27}, 12288},
	} {
		v, err := flux2.VariantByName(tc.variant)
		if err != nil {
			t.Fatal(err)
		}
		cfg, layers, err := ForVariant(v)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Family != tc.family || [3]int(layers) != tc.layers || 3*cfg.Hidden != tc.width || tc.width != v.Config.ContextDim {
			t.Errorf("%s: family %s layers %v width %d, want %s %v %d (context %d)", tc.variant, cfg.Family, layers, 3*cfg.Hidden,
				tc.family, tc.layers, tc.width, v.Config.ContextDim)
		}
	}
}

func TestLoadReportsProblems(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "textenc", "qwen3-tiny")
	ck, err := weights.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	cfg := Qwen3_4B() // the wrong size for these weights
	if _, err := Load(testutil.Backend(t), ck, "qwen3-tiny", cfg, []int{9, 18, 27}, dtypes.Float32); err == nil {
		t.Fatal("wrong-size config accepted")
	} else {
		t.Log(err)
	}
}
