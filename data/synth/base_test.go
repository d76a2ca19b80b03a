package synth

import (
	"bytes"
	"image/color"
	"strings"
	"testing"
)

// parseBaseCaption splits "a {colour} {shape} on a {background} background".
func parseBaseCaption(t *testing.T, name, caption string) (colour, shape, bg string) {
	t.Helper()
	w := strings.Fields(caption)
	if len(w) != 7 || w[0] != "a" || w[3] != "on" || w[4] != "a" || w[6] != "background" {
		t.Fatalf("%s: caption %q", name, caption)
	}
	if !strings.HasSuffix(name, "-"+w[1]+"-"+w[2]+"-on-"+w[5]) {
		t.Errorf("%s: name does not match caption %q", name, caption)
	}
	return w[1], w[2], w[5]
}

func colourOf(t *testing.T, list []named, name string) color.NRGBA {
	t.Helper()
	for _, c := range list {
		if c.name == name {
			return c.rgb
		}
	}
	t.Fatalf("unknown colour %q", name)
	return color.NRGBA{}
}

// TestGenerateBase: captions parse and name known colours, shapes and
// backgrounds; every shape/colour pair is equally frequent; the background
// contrasts with the shape, fills the whole border (the shape lies inside)
// and the shape's colour is present; the set is deterministic by seed.
func TestGenerateBase(t *testing.T) {
	opts := BaseOptions{Count: 2 * BasePairs(), Seed: 3, Size: 64}
	ex, err := GenerateBase(opts)
	if err != nil {
		t.Fatal(err)
	}
	pairs, bgs := map[string]int{}, map[string]int{}
	for _, e := range ex {
		colour, shape, bg := parseBaseCaption(t, e.Name, e.Caption)
		fill, back := colourOf(t, baseColours, colour), colourOf(t, backgrounds, bg)
		if colour == bg || rgbDistance(fill, back) < minBackgroundContrast {
			t.Errorf("%s: background too close to the shape", e.Name)
		}
		if _, ok := shapeExtents()[shape]; !ok {
			t.Errorf("%s: unknown shape %q", e.Name, shape)
		}
		pairs[colour+" "+shape]++
		bgs[bg]++
		if b := e.Image.Rect; b.Dx() != 64 || b.Dy() != 64 {
			t.Fatalf("%s: size %v", e.Name, b)
		}
		fillPixels := 0
		for y := 0; y < 64; y++ {
			for x := 0; x < 64; x++ {
				c := e.Image.NRGBAAt(x, y)
				if (x == 0 || y == 0 || x == 63 || y == 63) && c != back {
					t.Fatalf("%s: border pixel (%d,%d) = %v, not the background %v: the shape leaves the image", e.Name, x, y, c, back)
				}
				if c == fill {
					fillPixels++
				}
			}
		}
		if fillPixels < 64 {
			t.Errorf("%s: only %d pixels of the shape colour", e.Name, fillPixels)
		}
	}
	if len(pairs) != BasePairs() {
		t.Errorf("%d distinct pairs, want %d", len(pairs), BasePairs())
	}
	for p, n := range pairs {
		if n != 2 {
			t.Errorf("pair %s drawn %d times, want 2", p, n)
		}
	}
	if len(bgs) != len(backgrounds) {
		t.Errorf("backgrounds used: %v", bgs)
	}
	again, _ := GenerateBase(opts)
	other, _ := GenerateBase(BaseOptions{Count: 8, Seed: 4})
	for i := range ex {
		if ex[i].Name != again[i].Name || !bytes.Equal(ex[i].Image.Pix, again[i].Image.Pix) {
			t.Fatalf("%s: not deterministic", ex[i].Name)
		}
	}
	if bytes.Equal(ex[0].Image.Pix, other[0].Image.Pix) {
		t.Error("seed does not change the image")
	}
	if b := other[0].Image.Rect; b.Dx() != 64 {
		t.Errorf("default size %v, want 64", b)
	}
	for _, bad := range []BaseOptions{{Count: 0}, {Count: 1, Size: 40}, {Count: 1, Size: 2048}} {
		if _, err := GenerateBase(bad); err == nil {
			t.Errorf("%+v: want error", bad)
		}
	}
}

// TestBaseSolidPixels: skipping the samples of pixels wholly on one side of
// the edge draws exactly what full supersampling draws.
func TestBaseSolidPixels(t *testing.T) {
	for i := range len(shapes) {
		sh, col := basePair(i)
		f := flatShape{shape: sh.sdf, fill: col.rgb, bg: backgrounds[0].rgb, cx: 30.3, cy: 33.1, radius: 20 / shapeExtents()[sh.name], angle: 0.3 + float64(i)}
		fast, full := renderFunc(64, 64, f.at, f.solid), renderFunc(64, 64, f.at, nil)
		if !bytes.Equal(fast.Pix, full.Pix) {
			t.Errorf("%s: solid-pixel shortcut changes the image", sh.name)
		}
	}
}

// TestBaseSizes: at other sizes the shape still lies inside the image.
func TestBaseSizes(t *testing.T) {
	ex, err := GenerateBase(BaseOptions{Count: 16, Seed: 9, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		_, _, bg := parseBaseCaption(t, e.Name, e.Caption)
		back := colourOf(t, backgrounds, bg)
		for i := 0; i < 32; i++ {
			for _, p := range [][2]int{{i, 0}, {0, i}, {i, 31}, {31, i}} {
				if c := e.Image.NRGBAAt(p[0], p[1]); c != back {
					t.Fatalf("%s: border pixel %v = %v", e.Name, p, c)
				}
			}
		}
	}
}

// TestBaseBackgrounds: no background is (near) the style's cream, and every
// colour has at least three contrasting backgrounds.
func TestBaseBackgrounds(t *testing.T) {
	for _, b := range backgrounds {
		if d := rgbDistance(b.rgb, cream); d < 40 {
			t.Errorf("background %s is %.0f from the style's cream", b.name, d)
		}
	}
	for _, c := range baseColours {
		if n := len(contrasting(c.rgb)); n < 3 {
			t.Errorf("colour %s has %d backgrounds", c.name, n)
		}
		if strings.ContainsAny(c.name, " -") {
			t.Errorf("colour name %q is not one word", c.name)
		}
	}
}

// TestStylePromptsHeldOut: the evaluation prompts are style captions whose
// shape/colour pairs the default demo set does not contain.
func TestStylePromptsHeldOut(t *testing.T) {
	demo, err := Generate(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range demo {
		seen[e.Caption] = true
	}
	prompts := StylePrompts()
	if len(prompts) != 8 {
		t.Fatalf("%d prompts", len(prompts))
	}
	shapesSeen := map[string]bool{}
	for _, p := range prompts {
		w := strings.Fields(p)
		if len(w) != 6 || w[4] != Trigger || w[5] != "style" {
			t.Errorf("prompt %q", p)
			continue
		}
		colourOf(t, palette, w[1])
		shapesSeen[w[2]] = true
		if seen[p] {
			t.Errorf("prompt %q is in the demo set", p)
		}
	}
	if len(shapesSeen) != len(shapes) {
		t.Errorf("prompts cover shapes %v", shapesSeen)
	}
}
