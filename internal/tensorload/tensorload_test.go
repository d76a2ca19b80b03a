package tensorload

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
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

// namesOnly is a Source of names only.
type namesOnly []string

func (n namesOnly) Names() []string                                    { return n }
func (namesOnly) Dims(string) ([]int, bool)                            { return nil, false }
func (namesOnly) ReadAs(string, dtypes.DType) (*tensors.Tensor, error) { return nil, nil }

// TestLayoutAndConfig checks detection, the given config winning over
// inference, and errors that name the source and the part.
func TestLayoutAndConfig(t *testing.T) {
	rule := LayoutRule{Part: "toy", Official: func(n string) bool { return strings.HasPrefix(n, "o.") },
		Diffusers: func(n string) bool { return strings.HasPrefix(n, "d.") }, OfficialHint: "o.*", DiffusersHint: "d.*"}
	infer := func(src namesOnly, l Layout) (int, error) {
		if len(src) > 1 {
			return 0, fmt.Errorf("too many")
		}
		return 10 + int(l), nil
	}
	given := 5
	for _, tc := range []struct {
		names  namesOnly
		given  *int
		layout Layout
		cfg    int
		err    string
	}{
		{names: namesOnly{"d.x"}, layout: LayoutDiffusers, cfg: 11},
		{names: namesOnly{"o.x"}, given: &given, cfg: 5},
		{names: namesOnly{"o.x", "o.y"}, err: "f: inferring the toy architecture: too many"},
		{names: namesOnly{"x"}, err: "f: no toy weights found (neither official o.* nor diffusers d.* names)"},
		{names: namesOnly{"o.x", "d.x"}, err: "f: mixed naming: 1 official and 1 diffusers toy weight names"},
	} {
		l, c, err := LayoutAndConfig(tc.names, "f", rule, tc.given, infer)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%v: error %v, want %q", tc.names, err, tc.err)
			}
			continue
		}
		if err != nil || l != tc.layout || c != tc.cfg {
			t.Errorf("%v: got %v, %d, %v; want %v, %d", tc.names, l, c, err, tc.layout, tc.cfg)
		}
	}
}
