package flux2

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// TestDiffusersParity loads diffusers-layout folders written by diffusers'
// own save_pretrained (tools/reference/flux2_transformer.py) and checks the
// forward pass against diffusers' output.
func TestDiffusersParity(t *testing.T) {
	for _, name := range []string{"flux2-tiny-dev", "flux2-tiny-klein"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "..", "testdata", "diffusers", name)
			// Load the model folder the way users point at it: the folder
			// holding transformer/ (sharded for the dev-like one).
			m, err := Load(testutil.Backend(t), dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if wantGuidance := name == "flux2-tiny-dev"; m.Config.GuidanceEmbed != wantGuidance {
				t.Errorf("GuidanceEmbed = %v, want %v", m.Config.GuidanceEmbed, wantGuidance)
			}
			io := weightstest.ReadF32(t, filepath.Join(dir, "io.safetensors"))
			b, err := m.NewBatch(io["img"], io["ctx"], io["timesteps"], io["guidance"], testutil.PositionIDs(io["ctx_ids"]), testutil.PositionIDs(io["img_ids"]))
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Forward(b, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CheckRelL2Tensors(t, "diffusers parity", out, io["out"], 1e-4)
		})
	}
}

// TestOfficialReferenceLoadAndInfer loads the official fixture through
// LoadFrom: the tiny architecture is inferred from shapes.
func TestOfficialReferenceLoadAndInfer(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	m, err := Load(testutil.Backend(t), filepath.Join(dir, "transformer.safetensors"), LoadOptions{Variant: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != TinyConfig() || m.Variant.Name != "tiny" {
		t.Errorf("got config %+v variant %q", m.Config, m.Variant.Name)
	}
}

// TestLoadReportsAllProblems breaks a checkpoint three ways and expects one
// error naming every problem.
func TestLoadReportsAllProblems(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	src := testutil.MapSource(weightstest.ReadF32(t, filepath.Join(dir, "transformer.safetensors")))
	delete(src, "single_blocks.1.linear2.weight")
	src["double_blocks.0.img_attn.proj.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 96*95), 96, 95)
	src["vae.encoder.conv_in.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 4), 4)
	_, err := LoadFrom(testutil.Backend(t), src, "broken.safetensors", LoadOptions{})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want *LoadError, got %v", err)
	}
	testutil.CheckContains(t, "error", err.Error(),
		"broken.safetensors",
		"1 missing tensors:\n    single_blocks.1.linear2.weight",
		"1 unexpected tensors:\n    vae.encoder.conv_in.weight",
		"double_blocks.0.img_attn.proj.weight: [96 95], want [96 96]")
}

func TestDiffusersNamesCoverAllWeights(t *testing.T) {
	for _, v := range Variants {
		seen := map[string]string{}
		for _, n := range v.Config.ParamNames() {
			s, err := DiffusersSource(n)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			for _, p := range s.Parts {
				if prev, dup := seen[p]; dup {
					t.Errorf("%s: diffusers name %s used by %s and %s", v.Name, p, prev, n)
				}
				seen[p] = n
			}
		}
		// Diffusers tensor counts from flux2-spec.md §1.2.
		want := map[string]int{"dev": 331, "klein-4b": 169, "klein-9b": 233}[v.Name]
		if want > 0 && len(seen) != want {
			t.Errorf("%s: %d diffusers tensors, want %d", v.Name, len(seen), want)
		}
	}
}

// TestRandomCheckpointRoundTrip writes a random checkpoint to disk and loads
// it back: the loaded model equals NewRandomModel with the same seed.
func TestRandomCheckpointRoundTrip(t *testing.T) {
	cfg := TinyConfig()
	path := filepath.Join(t.TempDir(), "random.safetensors")
	if err := WriteRandomCheckpoint(path, cfg, 9, weights.F32, nil); err != nil {
		t.Fatal(err)
	}
	m, err := Load(testutil.Backend(t), path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewRandomModel(testutil.Backend(t), cfg, 9, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cfg.ParamNames() {
		a, _ := m.Variable(n).Value()
		b, _ := want.Variable(n).Value()
		av, bv := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
		for i := range av {
			if av[i] != bv[i] {
				t.Fatalf("%s[%d] = %g, want %g", n, i, av[i], bv[i])
			}
		}
	}
}

// TestSaveCheckpointLayouts: saving in either layout and loading back gives
// the same model (the diffusers one via split q/k/v and swapped halves).
func TestSaveCheckpointLayouts(t *testing.T) {
	m, err := NewRandomModel(testutil.Backend(t), TinyConfig(), 4, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for _, layout := range []Layout{LayoutOfficial, LayoutDiffusers} {
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := m.SaveCheckpoint(path, layout, map[string]string{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		back, err := Load(testutil.Backend(t), path, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.Config.ParamNames() {
			a, _ := m.Variable(n).Value()
			b, _ := back.Variable(n).Value()
			av, bv := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
			for i := range av {
				if av[i] != bv[i] {
					t.Fatalf("%s layout: %s[%d] changed", layout, n, i)
				}
			}
		}
	}
}
