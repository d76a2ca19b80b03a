package bundle

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

// TestSkipTransformer: without loading the transformer, Load names the same
// variant and configuration a full load does, for float (official and
// diffusers layouts) and Flora-quantized checkpoints; a wrong --variant is
// refused the same way, whether the transformer is loaded or not.
func TestSkipTransformer(t *testing.T) {
	official := testutil.ReferenceFile(t, "transformer.safetensors")
	diffusers := filepath.Join("..", "..", "testdata", "diffusers", "flux2-tiny-klein")
	b := testutil.Backend(t)
	paths := []string{official, diffusers}
	q := filepath.Join(t.TempDir(), "q.safetensors")
	if err := quant.SaveCheckpoint(mustQuantized(t, paths[0]), q, quant.NF4); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, q)
	for _, p := range paths {
		want, err := Load(b, Options{Path: p, SkipVAE: true, SkipText: true, DType: dtypes.Float32})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(b, Options{Path: p, SkipVAE: true, SkipText: true, SkipTransformer: true})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got.Transformer != nil {
			t.Errorf("%s: transformer loaded despite SkipTransformer", p)
		}
		if got.Variant.Name != want.Variant.Name || got.Variant.Config != want.Transformer.Config {
			t.Errorf("%s: header says %s %+v, loading says %s %+v", p, got.Variant.Name, got.Variant.Config, want.Variant.Name, want.Transformer.Config)
		}
		for _, skip := range []bool{true, false} {
			if _, err := Load(b, Options{Path: p, SkipVAE: true, SkipText: true, SkipTransformer: skip, Variant: "dev"}); err == nil {
				t.Errorf("%s (skip transformer %v): a tiny checkpoint was accepted as dev", p, skip)
			}
		}
	}
}

func mustQuantized(t *testing.T, path string) *flux2.Model {
	t.Helper()
	c, err := Load(testutil.Backend(t), Options{Path: path, SkipVAE: true, SkipText: true, DType: dtypes.InvalidDType,
		Quant: quant.Options{Scheme: quant.NF4, DoubleQuant: true}})
	if err != nil {
		t.Fatal(err)
	}
	return c.Transformer
}

// TestEmbeddedVariant: the built-in model answers to auto and its own name;
// any other variant is refused, not ignored.
func TestEmbeddedVariant(t *testing.T) {
	for _, tc := range []struct {
		variant string
		ok      bool
	}{{"", true}, {"auto", true}, {"embedded-tiny", true}, {"klein-99b", false}, {"dev", false}} {
		v, err := InspectVariant("embedded:tiny", tc.variant)
		if (err == nil) != tc.ok {
			t.Errorf("variant %q: err = %v, want ok=%v", tc.variant, err, tc.ok)
		}
		if tc.ok && v.Name != "embedded-tiny" {
			t.Errorf("variant %q: got %s", tc.variant, v.Name)
		}
	}
}
