package synth

import (
	"bytes"
	"fmt"
	"image/color"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data"
)

// committedHoldout is the held-out validation set written by
// tools/gendata -holdout.
const committedHoldout = "../../examples/tiny/holdout"

// TestStyleHoldout: one 64×64 image per held-out prompt, captioned with
// it, deterministic, and none of its pairs in the demo set.
func TestStyleHoldout(t *testing.T) {
	ex := StyleHoldout()
	prompts := StylePrompts()
	if len(ex) != 8 || len(ex) != len(prompts) {
		t.Fatalf("%d examples for %d prompts", len(ex), len(prompts))
	}
	demo, err := Generate(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	inDemo := map[string]bool{}
	for _, e := range demo {
		inDemo[e.Caption] = true
	}
	again := StyleHoldout()
	for i, e := range ex {
		if e.Caption != prompts[i] {
			t.Errorf("%s: caption %q, want prompt %q", e.Name, e.Caption, prompts[i])
		}
		if inDemo[e.Caption] {
			t.Errorf("%s: %q is in the demo set", e.Name, e.Caption)
		}
		if b := e.Image.Rect; b.Dx() != 64 || b.Dy() != 64 {
			t.Errorf("%s: size %v, want 64×64", e.Name, b)
		}
		if want := heldOut[i]; e.Name != fmt.Sprintf("%02d-%s-%s", i, want.Colour, want.Shape) {
			t.Errorf("name %q for pair %v", e.Name, want)
		}
		if again[i].Name != e.Name || !bytes.Equal(again[i].Image.Pix, e.Image.Pix) {
			t.Errorf("%s: not deterministic", e.Name)
		}
	}
	if bytes.Equal(ex[0].Image.Pix, ex[4].Image.Pix) {
		t.Error("different pairs drew the same image")
	}
}

// TestGeneratePairs: the pair's colour and the style's outline are drawn;
// the seed moves the shape; unknown names and tiny sizes are errors naming
// the problem.
func TestGeneratePairs(t *testing.T) {
	a, err := GeneratePairs([]Pair{{"red", "circle"}}, 64, 80, 5)
	if err != nil {
		t.Fatal(err)
	}
	if b := a[0].Image.Rect; b.Dx() != 64 || b.Dy() != 80 || a[0].Caption != "a red circle in flora style" || a[0].Name != "00-red-circle" {
		t.Errorf("got %s %v %q", a[0].Name, b, a[0].Caption)
	}
	counts := map[color.NRGBA]int{}
	for i := 0; i < len(a[0].Image.Pix); i += 4 {
		p := a[0].Image.Pix[i : i+4]
		counts[color.NRGBA{p[0], p[1], p[2], p[3]}]++
	}
	red, _ := colourNamed("red")
	if counts[red.rgb] < 64*80/100 || counts[outline] < 64*80/100 || counts[cream] < 64*80/100 {
		t.Errorf("fill %d, outline %d, cream %d pixels", counts[red.rgb], counts[outline], counts[cream])
	}
	b, _ := GeneratePairs([]Pair{{"red", "circle"}}, 64, 80, 6)
	if bytes.Equal(a[0].Image.Pix, b[0].Image.Pix) {
		t.Error("seed does not change placement")
	}
	for _, tc := range []struct {
		pair Pair
		w    int
		want string
	}{
		{Pair{"red", "blob"}, 64, `unknown shape "blob"`},
		{Pair{"teal", "circle"}, 64, `unknown colour "teal"`},
		{Pair{"red", "circle"}, 8, "at least 16×16"},
	} {
		_, err := GeneratePairs([]Pair{tc.pair}, tc.w, 64, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %d: error %v, want %q", tc.pair, tc.w, err, tc.want)
		}
	}
}

// The committed held-out folder is exactly what StyleHoldout draws and
// scans without a problem.
func TestCommittedHoldout(t *testing.T) {
	ex := StyleHoldout()
	var names []string
	for _, e := range ex {
		names = append(names, e.Name+".png", e.Name+".txt")
		checkCommitted(t, committedHoldout, e, "go run ./tools/gendata -holdout -out examples/tiny/holdout")
	}
	entries, err := os.ReadDir(committedHoldout)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("folder holds %v, want %v", got, names)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: committedHoldout}}
	cfg.MinSide = 64
	cfg.Resolutions = []int{64}
	cfg.Trigger = Trigger
	ds, problems, err := data.Scan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != len(ex) || len(problems) != 0 {
		t.Errorf("scan: %d items, problems %v", len(ds.Items), problems)
	}
}
