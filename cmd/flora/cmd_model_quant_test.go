package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
)

// TestModelQuantize: `flora model quantize` writes a quantized checkpoint
// that loads back to exactly the weights quantizing at load time gives, for
// every scheme; `model inspect --quantize` reports the groups; bad flags are
// usage errors.
func TestModelQuantize(t *testing.T) {
	src := needFixture(t, "transformer.safetensors")
	for _, scheme := range []string{"int8", "fp8", "nf4"} {
		t.Run(scheme, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "q.safetensors")
			code, stdout, stderr := runCLI(t, "model", "quantize", src, "--scheme", scheme, "--out", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "with "+scheme) || !strings.Contains(stdout, "peak host memory") {
				t.Errorf("report: %q", stdout)
			}
			if code, stdout, _ := runCLI(t, "model", "quantize", src, "--scheme", scheme, "--dry-run"); code != 0 || !strings.Contains(stdout, "as "+scheme) {
				t.Errorf("--dry-run: exit %d: %q", code, stdout)
			}
			b := testutil.Backend(t)
			saved, err := bundle.Load(b, bundle.Options{Path: out, SkipVAE: true, SkipText: true})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := quant.ParseScheme(scheme)
			direct, err := bundle.Load(b, bundle.Options{Path: src, DType: dtypes.InvalidDType, SkipVAE: true, SkipText: true,
				Quant: quant.Options{Scheme: s, DoubleQuant: s == quant.NF4}})
			if err != nil {
				t.Fatal(err)
			}
			names := direct.Transformer.VariableNames()
			if got := saved.Transformer.VariableNames(); len(got) != len(names) {
				t.Fatalf("%d variables after saving, %d when quantizing at load", len(got), len(names))
			}
			for _, n := range names {
				v1, err1 := direct.Transformer.Variable(n).Value()
				sv := saved.Transformer.Variable(n)
				if sv == nil {
					t.Fatalf("variable %s missing from the saved checkpoint", n)
				}
				v2, err2 := sv.Value()
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				var b1, b2 []byte
				v1.ConstBytes(func(b []byte) { b1 = bytes.Clone(b) })
				v2.ConstBytes(func(b []byte) { b2 = bytes.Clone(b) })
				if !v1.Shape().Equal(v2.Shape()) || !bytes.Equal(b1, b2) {
					t.Errorf("%s: %s differs from %s", n, v2.Shape(), v1.Shape())
				}
			}
		})
	}
	code, stdout, stderr := runCLI(t, "model", "inspect", src, "--quantize", "nf4")
	if code != 0 || !strings.Contains(stdout, "double mlp") || !strings.Contains(stdout, "with nf4") {
		t.Errorf("inspect --quantize: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"model", "quantize", src, "--scheme", "int4", "--out", filepath.Join(t.TempDir(), "x.safetensors")},
		{"model", "quantize", src, "--out", "x.bin"},
		{"model", "quantize", "--out", "x.safetensors"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
