package eval

import (
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/data/synth"
)

// demoDir is the committed flora-style demo set.
const demoDir = "../examples/tiny/data"

// TestStyleSeparatesDemoFromBase: every demo image scores above every
// plain base image, with a clear margin, and the means are far apart.
func TestStyleSeparatesDemoFromBase(t *testing.T) {
	demo, err := StyleFiles([]string{demoDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(demo) != 24 {
		t.Fatalf("%d demo images", len(demo))
	}
	base, err := synth.GenerateBase(synth.BaseOptions{Count: 80, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var baseImgs []image.Image
	for _, e := range base {
		baseImgs = append(baseImgs, e.Image)
	}
	var demoStyles []Style
	minDemo, maxBase := math.Inf(1), math.Inf(-1)
	for _, f := range demo {
		demoStyles = append(demoStyles, f.Style)
		minDemo = math.Min(minDemo, f.Style.Score)
	}
	for _, img := range baseImgs {
		maxBase = math.Max(maxBase, StyleScore(img))
	}
	d, b := SummariseStyles(demoStyles), DatasetStyle(baseImgs)
	t.Logf("demo: %+v (min %.3f); base: %+v (max %.3f)", d, minDemo, b, maxBase)
	if minDemo < 0.85 || maxBase > 0.6 || minDemo-maxBase < 0.25 {
		t.Errorf("demo min %.3f vs base max %.3f: want demo ≥ 0.85, base ≤ 0.6, margin ≥ 0.25", minDemo, maxBase)
	}
	if d.StripeEnergy < 0.6 || b.StripeEnergy > 0.1 {
		t.Errorf("stripe energy demo %.3f base %.3f", d.StripeEnergy, b.StripeEnergy)
	}
}

// fill returns a w×h image of f(x, y).
func fill(w, h int, f func(x, y int) color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, f(x, y))
		}
	}
	return img
}

// stripes draws the style's two creams in stripes of period p along x+y
// (or x−y).
func stripes(w, h int, p int, alongSum bool) *image.NRGBA {
	return fill(w, h, func(x, y int) color.NRGBA {
		s := x + y
		if !alongSum {
			s = x - y + 1000*p
		}
		if s%p < p/2 {
			return color.NRGBA{234, 223, 190, 255}
		}
		return color.NRGBA{244, 235, 208, 255}
	})
}

func TestStyleMeasures(t *testing.T) {
	cream := fill(64, 64, func(x, y int) color.NRGBA { return color.NRGBA{244, 235, 208, 255} })
	if d := BackgroundDistance(cream); d != 0 {
		t.Errorf("pure cream: distance %g", d)
	}
	if e := StripeEnergy(cream); e > 1e-9 {
		t.Errorf("flat image: stripe energy %g", e)
	}
	black := fill(64, 64, func(x, y int) color.NRGBA { return color.NRGBA{0, 0, 0, 255} })
	if d := BackgroundDistance(black); d < 0.8 || d > 1 {
		t.Errorf("black: distance %g", d)
	}
	for _, sz := range [][2]int{{64, 64}, {96, 64}, {128, 128}} {
		p := StripePeriod * min(sz[0], sz[1]) / 64
		sum, diff := StripeEnergy(stripes(sz[0], sz[1], p, true)), StripeEnergy(stripes(sz[0], sz[1], p, false))
		if sum < 0.7 || diff > 0.05 || diff >= sum {
			t.Errorf("%v: x+y stripes %.3f, x−y stripes %.3f", sz, sum, diff)
		}
		if s := StyleScore(stripes(sz[0], sz[1], p, true)); s < 0.9 || s > 1 {
			t.Errorf("%v: striped cream scores %.3f", sz, s)
		}
	}
	if s := StyleScore(black); s > 0.1 {
		t.Errorf("black scores %.3f", s)
	}
	if e := StripeEnergy(image.NewNRGBA(image.Rect(0, 0, 8, 8))); e != 0 {
		t.Errorf("tiny image: %g", e)
	}
	if st := DatasetStyle(nil); st.N != 0 || st.Mean != 0 {
		t.Errorf("empty set: %+v", st)
	}
	if _, err := StyleFiles([]string{filepath.Join(t.TempDir(), "missing.png")}); err == nil {
		t.Error("missing file accepted")
	}
}
