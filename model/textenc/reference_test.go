package textenc

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// fixtureDir holds the fixtures written by tools/reference/textenc.py.
var fixtureDir = filepath.Join("..", "..", "testdata", "textenc")

type refCase struct {
	Name          string    `json:"name"`
	Family        string    `json:"family"`
	Model         string    `json:"model"`
	Layers        []int     `json:"layers"`
	InputIDs      [][]int32 `json:"input_ids"`
	AttentionMask [][]int32 `json:"attention_mask"`
	Output        string    `json:"output"`
	OutputBF16    string    `json:"output_bf16"`
}

func loadCases(t *testing.T) ([]refCase, map[string]*tensors.Tensor) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, "cases.json"))
	if err != nil {
		t.Fatalf("fixtures missing (run tools/reference/textenc.py): %v", err)
	}
	var f struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases, weightstest.ReadF32(t, filepath.Join(fixtureDir, "outputs.safetensors"))
}

func findCase(t *testing.T, cases []refCase, name string) refCase {
	t.Helper()
	for _, c := range cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no fixture case %q", name)
	return refCase{}
}

// fixtureSpec reads the case's model config and builds its spec.
func fixtureSpec(t *testing.T, c refCase) Spec {
	t.Helper()
	cfg, err := ConfigFromHFFile(filepath.Join(fixtureDir, c.Model, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Name: c.Model, Config: cfg, Layers: c.Layers, PadSide: PadSideOf(cfg.Family), MaxLength: len(c.InputIDs[0])}
}

// errors returns ‖got − want‖/‖want‖ and max|got − want| / max|want|.
func relErrors(t *testing.T, got, want *tensors.Tensor) (relL2, relMax float64) {
	t.Helper()
	if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
		t.Fatalf("shape %v, want %v", got.Shape().Dimensions, want.Shape().Dimensions)
	}
	g := tensors.MustCopyFlatData[float32](got)
	w := tensors.MustCopyFlatData[float32](want)
	var num, den, maxDiff, maxWant float64
	for i := range g {
		d := float64(g[i]) - float64(w[i])
		num += d * d
		den += float64(w[i]) * float64(w[i])
		maxDiff = max(maxDiff, math.Abs(d))
		maxWant = max(maxWant, math.Abs(float64(w[i])))
	}
	return math.Sqrt(num / den), maxDiff / maxWant
}

func encodeCase(t *testing.T, spec Spec, src TensorSource, c refCase, dtype dtypes.DType) (*tensors.Tensor, *Encoder) {
	t.Helper()
	enc, err := Load(testutil.Backend(t), src, c.Model, spec, LoadOptions{DType: dtype})
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encode(c.InputIDs, c.AttentionMask)
	if err != nil {
		t.Fatal(err)
	}
	return out, enc
}

// TestReferenceParity compares Encode in float32 with the diffusers FLUX.2
// pipelines' prompt embeddings of the tiny random models.
func TestReferenceParity(t *testing.T) {
	cases, outputs := loadCases(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			spec := fixtureSpec(t, c)
			out, enc := encodeCase(t, spec, fixtureSource(t, c.Model), c, dtypes.Float32)
			defer enc.Release()
			relL2, relMax := relErrors(t, out, outputs[c.Output])
			t.Logf("%s: rel L2 %.2e, max abs err / max abs %.2e", c.Name, relL2, relMax)
			if relL2 > 1e-4 || relMax > 1e-4 {
				t.Errorf("float32 mismatch: rel L2 %.2e, rel max %.2e (want ≤ 1e-4)", relL2, relMax)
			}
		})
	}
}

// TestReferenceParityBF16 runs the bfloat16 path against the pipelines run
// in bfloat16. The pure-Go backend truncates when rounding to bfloat16
// (PyTorch rounds to nearest), so the bound is loose.
func TestReferenceParityBF16(t *testing.T) {
	cases, outputs := loadCases(t)
	for _, c := range cases {
		if c.OutputBF16 == "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			spec := fixtureSpec(t, c)
			out, enc := encodeCase(t, spec, fixtureSource(t, c.Model), c, dtypes.BFloat16)
			defer enc.Release()
			relL2, _ := relErrors(t, out, outputs[c.OutputBF16])
			ref32, _ := relErrors(t, outputs[c.OutputBF16], outputs[c.Output])
			t.Logf("%s: Go bf16 vs torch bf16 rel L2 %.2e (torch bf16 vs torch f32: %.2e)", c.Name, relL2, ref32)
			if relL2 > 4*ref32+1e-2 {
				t.Errorf("bfloat16 mismatch: rel L2 %.2e", relL2)
			}
		})
	}
}

// renamed returns a source whose names are mapped by rename.
func renamed(src map[string]*tensors.Tensor, rename func(string) string) *mapSource {
	out := map[string]*tensors.Tensor{}
	for n, v := range src {
		out[rename(n)] = v
	}
	return &mapSource{tensors: out}
}

// toNewMistral3Names maps the layout transformers 5 writes
// (language_model.model.*) to the transformers ≥ 4.52 in-memory layout that
// newer checkpoints use (model.language_model.*).
func toNewMistral3Names(n string) string {
	for _, r := range [][2]string{
		{"language_model.model.", "model.language_model."},
		{"language_model.lm_head.", "lm_head."},
		{"vision_tower.", "model.vision_tower."},
		{"multi_modal_projector.", "model.multi_modal_projector."},
	} {
		if strings.HasPrefix(n, r[0]) {
			return r[1] + n[len(r[0]):]
		}
	}
	return n
}

// TestMistral3Namings loads the Mistral3 checkpoint in both the old and the
// new naming and checks that only language-model tensors up to the deepest
// selected layer are read.
func TestMistral3Namings(t *testing.T) {
	cases, outputs := loadCases(t)
	c := findCase(t, cases, "mistral3_tiny")
	stored := weightstest.ReadF32(t, filepath.Join(fixtureDir, c.Model))
	for _, tc := range []struct {
		name   string
		src    *mapSource
		prefix string
	}{
		{"old", &mapSource{tensors: stored}, "language_model.model."},
		{"new", renamed(stored, toNewMistral3Names), "model.language_model."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := DetectPrefix(tc.src.Names()); err != nil || p != tc.prefix {
				t.Fatalf("DetectPrefix = %q, %v; want %q", p, err, tc.prefix)
			}
			spec := fixtureSpec(t, c)
			out, enc := encodeCase(t, spec, tc.src, c, dtypes.Float32)
			defer enc.Release()
			if relL2, _ := relErrors(t, out, outputs[c.Output]); relL2 > 1e-4 {
				t.Errorf("rel L2 %.2e", relL2)
			}
			want := len(spec.Config.NeededParamShapes(spec.Depth(), false))
			if len(tc.src.reads) != want {
				t.Errorf("read %d tensors, want %d", len(tc.src.reads), want)
			}
			for _, r := range tc.src.reads {
				if !strings.HasPrefix(r, tc.prefix) || strings.Contains(r, "layers.4.") || strings.HasSuffix(r, "."+finalNormName) {
					t.Errorf("read %s, which the encoder does not need", r)
				}
			}
		})
	}
}

// TestDeepFixturesUseVariantLayers checks that the ≥ 27/30-layer fixtures
// were recorded with the layer sets SpecForVariant binds to klein and dev,
// and that loading stops at the deepest selected layer.
func TestDeepFixturesUseVariantLayers(t *testing.T) {
	cases, _ := loadCases(t)
	for _, tc := range []struct{ caseName, variant, notRead string }{
		{"qwen3_deep_klein", "klein-4b", "model.layers.27."},
		{"mistral3_deep_dev", "dev", "language_model.model.layers.30."},
	} {
		t.Run(tc.caseName, func(t *testing.T) {
			c := findCase(t, cases, tc.caseName)
			v, err := SpecForVariant(tc.variant)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Layers, v.Layers) {
				t.Fatalf("fixture layers %v, variant %s uses %v", c.Layers, tc.variant, v.Layers)
			}
			spec := fixtureSpec(t, c)
			if spec.Config.Family != v.Config.Family || spec.PadSide != v.PadSide {
				t.Fatalf("fixture family %s/%s, variant %s/%s", spec.Config.Family, spec.PadSide, v.Config.Family, v.PadSide)
			}
			src := fixtureSource(t, c.Model)
			if _, ok := src.Dims(tc.notRead + "mlp.up_proj.weight"); !ok {
				t.Fatalf("fixture lacks %s*, so this test proves nothing", tc.notRead)
			}
			enc, err := Load(testutil.Backend(t), src, c.Model, spec, LoadOptions{DType: dtypes.Float32})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Release()
			for _, r := range src.reads {
				if strings.HasPrefix(r, tc.notRead) || strings.HasSuffix(r, "."+finalNormName) {
					t.Errorf("read %s beyond the deepest selected layer", r)
				}
			}
		})
	}
}
