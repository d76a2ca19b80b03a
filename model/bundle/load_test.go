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
// refused the same way.
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
		if _, err := Load(b, Options{Path: p, SkipVAE: true, SkipText: true, SkipTransformer: true, Variant: "dev"}); err == nil {
			t.Errorf("%s: a tiny checkpoint was accepted as dev", p)
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
