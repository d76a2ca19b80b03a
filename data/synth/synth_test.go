package synth

import (
	"bytes"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/imageio"
)

// committedDir is the bundled example dataset written by tools/gendata.
const committedDir = "../../examples/tiny/data"

func TestGenerate(t *testing.T) {
	ex, err := Generate(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 24 {
		t.Fatalf("%d examples", len(ex))
	}
	pairs, colours := map[string]bool{}, map[string]int{}
	for _, e := range ex {
		b := e.Image.Rect
		if b.Dx()%16 != 0 || b.Dy()%16 != 0 || b.Dx() < 64 || b.Dx() > 128 || b.Dy() < 64 || b.Dy() > 128 {
			t.Errorf("%s: size %v", e.Name, b)
		}
		words := strings.Fields(e.Caption) // "a <colour> <shape> in flora style"
		if len(words) != 6 || words[0] != "a" || words[3] != "in" || words[4] != Trigger || words[5] != "style" || !strings.HasSuffix(e.Name, "-"+words[1]+"-"+words[2]) {
			t.Errorf("%s: caption %q", e.Name, e.Caption)
			continue
		}
		if pairs[words[1]+" "+words[2]] {
			t.Errorf("%s: pair repeated", e.Name)
		}
		pairs[words[1]+" "+words[2]] = true
		colours[words[1]]++
	}
	for c, n := range colours {
		if n != 4 {
			t.Errorf("colour %s used %d times, want 4", c, n)
		}
	}
	again, _ := Generate(DefaultOptions())
	for i := range ex {
		if !bytes.Equal(ex[i].Image.Pix, again[i].Image.Pix) {
			t.Fatalf("%s: not deterministic", ex[i].Name)
		}
	}
	other, _ := Generate(Options{Count: 24, Seed: 2})
	if bytes.Equal(ex[0].Image.Pix, other[0].Image.Pix) {
		t.Error("seed does not change placement")
	}
	for _, n := range []int{0, 49} {
		if _, err := Generate(Options{Count: n}); err == nil {
			t.Errorf("count %d: want error", n)
		}
	}
}

// The style is consistent: every image has the outline colour and cream
// background; the shape colour named in the caption is present.
func TestStyleColours(t *testing.T) {
	ex, _ := Generate(DefaultOptions())
	for _, e := range ex {
		counts := map[[3]uint8]int{}
		for i := 0; i < len(e.Image.Pix); i += 4 {
			counts[[3]uint8{e.Image.Pix[i], e.Image.Pix[i+1], e.Image.Pix[i+2]}]++
		}
		n := e.Image.Rect.Dx() * e.Image.Rect.Dy()
		var fill [3]uint8
		for _, p := range palette {
			if strings.Contains(e.Caption, " "+p.name+" ") {
				fill = [3]uint8{p.rgb.R, p.rgb.G, p.rgb.B}
			}
		}
		for name, c := range map[string][3]uint8{"outline": {outline.R, outline.G, outline.B}, "cream": {cream.R, cream.G, cream.B}, "fill": fill} {
			if counts[c] < n/100 {
				t.Errorf("%s: %s colour covers %d of %d pixels", e.Name, name, counts[c], n)
			}
		}
	}
}

// The committed example folder is exactly what the generator draws, small,
// and scans without a single problem.
func TestCommittedExamples(t *testing.T) {
	ex, err := Generate(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, e := range ex {
		total += checkCommitted(t, committedDir, e, "go run ./tools/gendata -out examples/tiny/data")
	}
	if total > 300<<10 {
		t.Errorf("example set is %d bytes, over 300 KB", total)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: committedDir}}
	cfg.MinSide = 64
	cfg.Resolutions = []int{64, 128}
	cfg.Trigger = Trigger
	ds, problems, err := data.Scan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != len(ex) || len(problems) != 0 {
		t.Errorf("scan: %d items, problems %v", len(ds.Items), problems)
	}
}

// checkCommitted checks that a committed example (PNG and caption in dir)
// is exactly what the generator drew, and returns the files' size; regen
// is the command that rewrites the folder.
func checkCommitted(t *testing.T, dir string, e Example, regen string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, e.Name+".png"))
	if err != nil {
		t.Fatalf("%v (regenerate with: %s)", err, regen)
	}
	img, err := png.Decode(bytes.NewReader(b)) // opaque: decodes as RGB
	if err != nil {
		t.Fatal(err)
	}
	if got := imageio.ToRGB(img, color.NRGBA{}); !bytes.Equal(got.Pix, e.Image.Pix) {
		t.Errorf("%s.png differs from the generator (regenerate with: %s)", e.Name, regen)
	}
	c, err := os.ReadFile(filepath.Join(dir, e.Name+".txt"))
	if err != nil || string(c) != e.Caption+"\n" {
		t.Errorf("%s.txt = %q, %v; want %q", e.Name, c, err, e.Caption)
	}
	return int64(len(b) + len(c))
}
