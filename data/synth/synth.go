// Package synth generates Flora's bundled example dataset: small images of
// varied shapes and colours, all drawn in one consistent "flora style" (a
// cream background with diagonal stripes, a soft drop shadow, a thick dark
// outline, hatched fill and a highlight dot), with captions such as
// "a red circle in flora style". A tiny model can learn the style as a
// visible concept from it. tools/gendata writes it to examples/tiny/data.
package synth

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Example is one generated image and its caption.
type Example struct {
	// Name is the file stem, e.g. "00-red-circle".
	Name    string
	Image   *image.NRGBA
	Caption string
}

// Trigger is the word that names the style in every caption.
const Trigger = "flora"

// Options control the generated set.
type Options struct {
	// Count is the number of images (1–48: every shape/colour pair once).
	Count int
	// Seed fixes placement jitter.
	Seed uint64
}

// DefaultOptions returns 24 images with seed 1.
func DefaultOptions() Options { return Options{Count: 24, Seed: 1} }

// palette is the style's colour set, by caption name.
var palette = []named{
	{"red", color.NRGBA{217, 79, 61, 255}},
	{"blue", color.NRGBA{61, 111, 217, 255}},
	{"green", color.NRGBA{79, 163, 74, 255}},
	{"yellow", color.NRGBA{232, 193, 58, 255}},
	{"purple", color.NRGBA{138, 79, 194, 255}},
	{"orange", color.NRGBA{232, 134, 58, 255}},
}

// sizes are the image sizes cycled through (multiples of 16).
var sizes = [][2]int{{64, 64}, {96, 64}, {64, 96}, {128, 128}, {80, 64}, {64, 80}}

// Generate draws the examples. Image i has shape i mod 8 and a colour
// chosen so that no shape/colour pair repeats and each colour appears
// equally often (Count a multiple of 6 and at most 48).
func Generate(opts Options) ([]Example, error) {
	if opts.Count < 1 || opts.Count > len(shapes)*len(palette) {
		return nil, fmt.Errorf("synth: count must be in [1, %d], got %d", len(shapes)*len(palette), opts.Count)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x666c6f7261)) // "flora"
	out := make([]Example, 0, opts.Count)
	for i := 0; i < opts.Count; i++ {
		sh := shapes[i%len(shapes)]
		col := palette[(i+2*(i/len(shapes)))%len(palette)]
		sz := sizes[i%len(sizes)]
		out = append(out, drawStyle(fmt.Sprintf("%02d", i), sh, col, sz[0], sz[1], rng))
	}
	return out, nil
}

// drawStyle draws one flora-style image of shape sh in colour col, w×h
// pixels, its placement jittered by four draws from rng; the name is
// "PREFIX-colour-shape".
func drawStyle(prefix string, sh shapeDef, col named, w, h int, rng *rand.Rand) Example {
	short := float64(min(w, h))
	sc := scene{
		shape:  sh.sdf,
		fill:   col.rgb,
		cx:     float64(w)/2 + (rng.Float64()-0.5)*0.16*short,
		cy:     float64(h)/2 + (rng.Float64()-0.5)*0.16*short,
		radius: short * (0.30 + 0.06*rng.Float64()),
		angle:  (rng.Float64() - 0.5) * 0.5,
		unit:   short / 64, // stroke widths scale with the image
	}
	return Example{
		Name:    fmt.Sprintf("%s-%s-%s", prefix, col.name, sh.name),
		Image:   render(w, h, sc),
		Caption: fmt.Sprintf("a %s %s in %s style", col.name, sh.name, Trigger),
	}
}

// scene is one shape placed on the canvas.
type scene struct {
	shape          func(x, y, r float64) float64
	fill           color.NRGBA
	cx, cy, radius float64
	angle          float64 // rotation, radians
	unit           float64 // pixels per style unit
}

// Style colours.
var (
	cream     = color.NRGBA{244, 235, 208, 255}
	creamDark = color.NRGBA{234, 223, 190, 255}
	outline   = color.NRGBA{43, 33, 24, 255}
	shadow    = color.NRGBA{120, 104, 80, 255}
	highlight = color.NRGBA{255, 252, 240, 255}
)

// supersample is the number of samples per pixel along each axis.
const supersample = 4

// render draws the scene at supersample² samples per pixel.
func render(w, h int, s scene) *image.NRGBA { return renderFunc(w, h, s.at, nil) }

// renderFunc draws the colour function at (canvas coordinates, pixel
// (px, py) covering [px, px+1) × [py, py+1)) at supersample² samples per
// pixel, averaged. solid, when not nil, may report that a pixel (given its
// centre) has one colour throughout, which skips its samples.
func renderFunc(w, h int, at func(x, y float64) color.NRGBA, solid func(x, y float64) (color.NRGBA, bool)) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	n := float64(supersample * supersample)
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			if solid != nil {
				if c, ok := solid(float64(px)+0.5, float64(py)+0.5); ok {
					img.SetNRGBA(px, py, c)
					continue
				}
			}
			var r, g, b float64
			for sy := 0; sy < supersample; sy++ {
				for sx := 0; sx < supersample; sx++ {
					c := at(float64(px)+(float64(sx)+0.5)/supersample, float64(py)+(float64(sy)+0.5)/supersample)
					r += float64(c.R)
					g += float64(c.G)
					b += float64(c.B)
				}
			}
			img.SetNRGBA(px, py, color.NRGBA{uint8(r/n + 0.5), uint8(g/n + 0.5), uint8(b/n + 0.5), 255})
		}
	}
	return img
}

// at is the colour of the scene at canvas point (x, y).
func (s scene) at(x, y float64) color.NRGBA {
	u := s.unit
	// Shape-local coordinates (rotated).
	local := func(x, y float64) (float64, float64) {
		dx, dy := x-s.cx, y-s.cy
		c, sn := math.Cos(s.angle), math.Sin(s.angle)
		return c*dx + sn*dy, -sn*dx + c*dy
	}
	lx, ly := local(x, y)
	d := s.shape(lx, ly, s.radius)
	switch {
	case d < -3*u: // interior: hatched fill with a highlight dot
		hx, hy := lx+0.35*s.radius, ly+0.35*s.radius
		if math.Hypot(hx, hy) < 0.14*s.radius {
			return highlight
		}
		if math.Mod(math.Abs(x-y+1000), 6*u) < 2*u {
			return mix(s.fill, highlight, 0.35)
		}
		return s.fill
	case d < 0: // outline band inside the edge
		return outline
	}
	// Background with the drop shadow of the shape, offset down-right.
	sx, sy := local(x-3*u, y-3*u)
	if s.shape(sx, sy, s.radius) < 0 {
		return shadow
	}
	if math.Mod(x+y+1000, 8*u) < 4*u {
		return creamDark
	}
	return cream
}

// mix blends a towards b by t.
func mix(a, b color.NRGBA, t float64) color.NRGBA {
	f := func(x, y uint8) uint8 { return uint8(float64(x)*(1-t) + float64(y)*t + 0.5) }
	return color.NRGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 255}
}
