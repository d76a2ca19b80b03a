package tensorload

import (
	"strings"
	"testing"
)

// TestStoredNames checks that repackaging prefixes are stripped in the
// official layout only.
func TestStoredNames(t *testing.T) {
	names := []string{"diffusion_model.a.weight", "b.weight"}
	got := StoredNames(names, LayoutOfficial, []string{"model.diffusion_model.", "diffusion_model."})
	if got["a.weight"] != "diffusion_model.a.weight" || got["b.weight"] != "b.weight" || len(got) != 2 {
		t.Errorf("official index %v", got)
	}
	got = StoredNames(names, LayoutDiffusers, []string{"diffusion_model."})
	if got["diffusion_model.a.weight"] != "diffusion_model.a.weight" || len(got) != 2 {
		t.Errorf("diffusers index %v", got)
	}
}

// TestProblems checks the report: counts, labels and the cut after 20 items.
func TestProblems(t *testing.T) {
	p := Problems{Missing: []string{"b", "a"}}
	for i := 0; i < 22; i++ {
		p.Unexpected = append(p.Unexpected, "u")
	}
	if !p.Any() || (&Problems{}).Any() {
		t.Error("Any is wrong")
	}
	p.Sort()
	var b strings.Builder
	p.Write(&b, DefaultLabels)
	want := "\n  2 missing tensors:\n    a\n    b\n  22 unexpected tensors:" + strings.Repeat("\n    u", 20) + "\n    ... and 2 more"
	if b.String() != want {
		t.Errorf("report %q, want %q", b.String(), want)
	}
	if CountElements(map[string][]int{"s": {}, "m": {2, 3}}) != 7 {
		t.Error("CountElements is wrong")
	}
}
