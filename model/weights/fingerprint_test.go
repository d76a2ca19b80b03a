package weights

import (
	"path/filepath"
	"testing"
)

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, vals []float32) string {
		p := filepath.Join(dir, name)
		if err := WriteFile(p, []TensorData{Float32Data("w", []int{len(vals)}, vals)}, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fp := func(p string) string {
		f := mustOpen(t, Open, p)
		c := mustOpen(t, OpenCheckpoint, p)
		if f.Fingerprint() != c.Fingerprint() {
			t.Errorf("file and one-file checkpoint fingerprints differ")
		}
		return f.Fingerprint()
	}
	a := fp(write("a.safetensors", []float32{1, 2, 3}))
	b := fp(write("b.safetensors", []float32{1, 2, 3}))
	c := fp(write("c.safetensors", []float32{1, 2, 4}))
	if a != b {
		t.Errorf("same content, different fingerprints %s %s", a, b)
	}
	if a == c {
		t.Errorf("changed weights kept the fingerprint %s", a)
	}
}
