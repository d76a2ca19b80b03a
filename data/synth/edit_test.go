package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/imageio"
)

// The tiny-edit demo's folders, written by tools/gendata -edit.
const (
	committedEditDir     = "../../examples/tiny-edit/data"
	committedControlDir  = "../../examples/tiny-edit/control"
	regenerateEditsHint  = "regenerate with: go run ./tools/gendata -edit"
	committedEditMaxSize = 200 << 10
)

// colourCounts counts the pixels of each RGB colour.
func colourCounts(img *image.NRGBA) map[[3]uint8]int {
	counts := map[[3]uint8]int{}
	for i := 0; i < len(img.Pix); i += 4 {
		counts[[3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}]++
	}
	return counts
}

// paletteRGB returns the RGB of a palette colour by name.
func paletteRGB(t *testing.T, name string) [3]uint8 {
	t.Helper()
	for _, p := range palette {
		if p.name == name {
			return [3]uint8{p.rgb.R, p.rgb.G, p.rgb.B}
		}
	}
	t.Fatalf("no palette colour %q", name)
	return [3]uint8{}
}

// TestGenerateEdits: each pair is the same drawing in two colours — the
// reference's source-colour pixels are exactly the target's new-colour
// pixels, outline and background are untouched — the caption names the
// shape and the new colour, and the set is balanced and deterministic.
func TestGenerateEdits(t *testing.T) {
	for _, tc := range []struct {
		count      int
		perColour  int // times each target colour appears
		uniquePair bool
	}{
		{count: 24, perColour: 4, uniquePair: true},
		{count: 48, perColour: 8},
		{count: 6, perColour: 1, uniquePair: true},
	} {
		t.Run(fmt.Sprint(tc.count), func(t *testing.T) {
			edits, err := GenerateEdits(EditOptions{Count: tc.count, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(edits) != tc.count {
				t.Fatalf("%d pairs, want %d", len(edits), tc.count)
			}
			names, pairs, triples, colours := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]int{}
			for i, e := range edits {
				var shape, src, dst string
				if _, err := fmt.Sscanf(strings.ReplaceAll(e.Name, "-", " "), "%02d %s %s to %s", new(int), &shape, &src, &dst); err != nil {
					t.Fatalf("%s: name does not read NN-SHAPE-SRC-to-DST: %v", e.Name, err)
				}
				if want := fmt.Sprintf("make the %s %s", shape, dst); e.Caption != want {
					t.Errorf("%s: caption %q, want %q", e.Name, e.Caption, want)
				}
				if shape != shapes[i%len(shapes)].name || src == dst {
					t.Errorf("%s: shape %s (want %s), %s to %s", e.Name, shape, shapes[i%len(shapes)].name, src, dst)
				}
				if names[e.Name] || triples[shape+src+dst] || tc.uniquePair && pairs[shape+dst] {
					t.Errorf("%s: repeated", e.Name)
				}
				names[e.Name], pairs[shape+dst], triples[shape+src+dst] = true, true, true
				colours[dst]++

				rb, tb := e.Reference.Rect, e.Target.Rect
				if rb != tb || rb.Dx()%16 != 0 || rb.Dy()%16 != 0 || min(rb.Dx(), rb.Dy()) != 64 || max(rb.Dx(), rb.Dy()) > 80 {
					t.Errorf("%s: reference %v, target %v", e.Name, rb, tb)
					continue
				}
				rc, tcnt := colourCounts(e.Reference), colourCounts(e.Target)
				s, d := paletteRGB(t, src), paletteRGB(t, dst)
				n := rb.Dx() * rb.Dy()
				if rc[s] < n/100 || rc[s] != tcnt[d] || tcnt[s] != 0 || rc[d] != 0 {
					t.Errorf("%s: source colour %d px in the reference, new colour %d px in the target (source %d, new %d left over)", e.Name, rc[s], tcnt[d], tcnt[s], rc[d])
				}
				for i := 0; i < len(e.Reference.Pix); i += 4 {
					p := [3]uint8{e.Reference.Pix[i], e.Reference.Pix[i+1], e.Reference.Pix[i+2]}
					q := [3]uint8{e.Target.Pix[i], e.Target.Pix[i+1], e.Target.Pix[i+2]}
					for _, keep := range []color.NRGBA{outline, cream, creamDark, shadow} {
						if p == [3]uint8{keep.R, keep.G, keep.B} && q != p {
							t.Fatalf("%s: pixel %d is %v in the reference but %v in the target", e.Name, i/4, p, q)
						}
					}
				}
			}
			for _, p := range palette {
				if colours[p.name] != tc.perColour {
					t.Errorf("target colour %s used %d times, want %d", p.name, colours[p.name], tc.perColour)
				}
			}
		})
	}
	a, _ := GenerateEdits(DefaultEditOptions())
	b, _ := GenerateEdits(DefaultEditOptions())
	c, _ := GenerateEdits(EditOptions{Count: 24, Seed: 2})
	if !bytes.Equal(a[3].Target.Pix, b[3].Target.Pix) || !bytes.Equal(a[3].Reference.Pix, b[3].Reference.Pix) {
		t.Error("not deterministic")
	}
	if bytes.Equal(a[3].Target.Pix, c[3].Target.Pix) {
		t.Error("seed does not change placement")
	}
	for _, n := range []int{0, -1, 49} {
		if _, err := GenerateEdits(EditOptions{Count: n}); err == nil {
			t.Errorf("count %d: want error", n)
		}
	}
}

// readPNG decodes a committed PNG as RGB.
func readPNG(t *testing.T, path string) (*image.NRGBA, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s)", err, regenerateEditsHint)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return imageio.ToRGB(img, color.NRGBA{}), len(b)
}

// The committed tiny-edit folders are exactly what the generator draws
// (and nothing more), small, and scan as a control dataset: every image
// with its reference, no problem.
func TestCommittedEdits(t *testing.T) {
	edits, err := GenerateEdits(DefaultEditOptions())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range edits {
		for _, f := range []struct {
			path string
			want *image.NRGBA
		}{
			{filepath.Join(committedEditDir, e.Name+".png"), e.Target},
			{filepath.Join(committedControlDir, e.Name+".png"), e.Reference},
		} {
			got, n := readPNG(t, f.path)
			if !bytes.Equal(got.Pix, f.want.Pix) || got.Rect != f.want.Rect {
				t.Errorf("%s differs from the generator (%s)", f.path, regenerateEditsHint)
			}
			total += n
		}
		c, err := os.ReadFile(filepath.Join(committedEditDir, e.Name+".txt"))
		if err != nil || string(c) != e.Caption+"\n" {
			t.Errorf("%s.txt = %q, %v; want %q", e.Name, c, err, e.Caption)
		}
		total += len(c)
	}
	for dir, want := range map[string]int{committedEditDir: 2 * len(edits), committedControlDir: len(edits)} {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != want {
			t.Errorf("%s: %d entries, want %d (%v; stale files? %s)", dir, len(entries), want, err, regenerateEditsHint)
		}
	}
	if total > committedEditMaxSize {
		t.Errorf("edit example set is %d bytes, over %d", total, committedEditMaxSize)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: committedEditDir, Control: committedControlDir}}
	cfg.MinSide = 64
	cfg.Resolutions = []int{64}
	ds, problems, err := data.Scan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != len(edits) || len(problems) != 0 {
		t.Fatalf("scan: %d items, problems %v", len(ds.Items), problems)
	}
	for i, it := range ds.Items {
		want := filepath.Join(committedControlDir, edits[i].Name+".png")
		if len(it.References) != 1 || filepath.Clean(it.References[0].Path) != filepath.Clean(want) || it.References[0].Source != data.SourceControlFolder {
			t.Errorf("%s: references %+v, want %s", it.Path, it.References, want)
		}
	}
	if r := ds.References; len(r) != 1 || r[0].Folder != committedEditDir || r[0].Control != committedControlDir ||
		r[0].Targets != len(edits) || r[0].References != len(edits) || r[0].Missing+r[0].Extra+r[0].Unusable != 0 {
		t.Errorf("folder summary %+v, want %d targets with %d references, none missing, extra or unusable", r, len(edits), len(edits))
	}
}
