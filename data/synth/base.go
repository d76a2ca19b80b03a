package synth

import (
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"sync"
)

// The base-pretraining set: plain images WITHOUT the flora style, for
// training a small base model from scratch that knows shapes, colours and
// backgrounds but not the style (which a LoRA then learns from the demo
// set). Each image is one flat-filled shape (no outline, hatching,
// highlight or shadow) on a flat background, captioned
// "a red circle on a white background".

// BaseOptions control the base-pretraining set.
type BaseOptions struct {
	// Count is the number of images (1–1,000,000). Shape/colour pairs
	// cycle, so every pair is equally frequent when Count is a multiple of
	// BasePairs().
	Count int
	// Seed fixes backgrounds, placement, size and rotation.
	Seed uint64
	// Size is the side of the square images in pixels (a multiple of 16,
	// 16–1024; 0: 64).
	Size int
}

// DefaultBaseOptions returns 3000 images of 64×64 with seed 1.
func DefaultBaseOptions() BaseOptions { return BaseOptions{Count: 3000, Seed: 1, Size: 64} }

// maxBaseCount bounds BaseOptions.Count.
const maxBaseCount = 1_000_000

// baseColours are the shape colours of the base set: the style's palette
// and four more, by caption name (single common words).
var baseColours = append(append([]named(nil), palette...), []named{
	{"white", color.NRGBA{250, 250, 250, 255}},
	{"black", color.NRGBA{25, 25, 25, 255}},
	{"pink", color.NRGBA{236, 130, 176, 255}},
	{"cyan", color.NRGBA{64, 200, 222, 255}},
}...)

// backgrounds are the flat background colours of the base set; none is
// near the style's cream (TestBaseBackgrounds).
var backgrounds = []named{
	{"white", color.NRGBA{255, 255, 255, 255}},
	{"black", color.NRGBA{0, 0, 0, 255}},
	{"gray", color.NRGBA{128, 128, 128, 255}},
	{"navy", color.NRGBA{28, 38, 92, 255}},
	{"teal", color.NRGBA{30, 118, 122, 255}},
	{"maroon", color.NRGBA{110, 28, 44, 255}},
}

// minBackgroundContrast is the least RGB distance between a shape's colour
// and its background: the shape must stand out.
const minBackgroundContrast = 60

// BasePairs is the number of distinct shape/colour pairs of the base set.
func BasePairs() int { return len(shapes) * len(baseColours) }

// GenerateBase draws the base-pretraining set. Image i shows pair
// i mod BasePairs(): shape i mod 8 in a colour that cycles so each shape
// meets every colour once per BasePairs() images; the background is drawn
// at random among those that contrast with the colour (never the same
// colour); the shape has a random size (outer radius 0.18–0.38 of the
// side), rotation and position, always wholly inside the image.
func GenerateBase(opts BaseOptions) ([]Example, error) {
	if opts.Size == 0 {
		opts.Size = DefaultBaseOptions().Size
	}
	if opts.Count < 1 || opts.Count > maxBaseCount {
		return nil, fmt.Errorf("synth: base count must be in [1, %d], got %d", maxBaseCount, opts.Count)
	}
	if opts.Size < 16 || opts.Size > 1024 || opts.Size%16 != 0 {
		return nil, fmt.Errorf("synth: base size must be a multiple of 16 in [16, 1024], got %d", opts.Size)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x62617365)) // "base"
	digits := len(fmt.Sprint(opts.Count - 1))
	out := make([]Example, 0, opts.Count)
	for i := 0; i < opts.Count; i++ {
		sh, col := basePair(i)
		bgs := contrasting(col.rgb)
		bg := bgs[rng.IntN(len(bgs))]
		side := float64(opts.Size)
		outer := side * (0.18 + 0.20*rng.Float64())
		margin := outer + 1 // a pixel of background all round
		fs := flatShape{
			shape:  sh.sdf,
			fill:   col.rgb,
			bg:     bg.rgb,
			radius: outer / shapeExtents()[sh.name],
			angle:  rng.Float64() * 2 * math.Pi,
			cx:     margin + rng.Float64()*(side-2*margin),
			cy:     margin + rng.Float64()*(side-2*margin),
		}
		out = append(out, Example{
			Name:    fmt.Sprintf("%0*d-%s-%s-on-%s", digits, i, col.name, sh.name, bg.name),
			Image:   renderFunc(opts.Size, opts.Size, fs.at, fs.solid),
			Caption: BaseCaption(col.name, sh.name, bg.name),
		})
	}
	return out, nil
}

// BaseCaption is the caption of a base image.
func BaseCaption(colour, shape, background string) string {
	return fmt.Sprintf("a %s %s on a %s background", colour, shape, background)
}

// named is a colour with its caption name.
type named struct {
	name string
	rgb  color.NRGBA
}

// basePair is the shape and colour of base image i: pair p = i mod
// BasePairs() has shape p mod 8 and colour (p/8 + shape) mod colours, a
// bijection of the pairs that also varies the colour between neighbours.
func basePair(i int) (shapeDef, named) {
	p := i % BasePairs()
	s := p % len(shapes)
	return shapes[s], baseColours[(p/len(shapes)+s)%len(baseColours)]
}

// contrasting lists the backgrounds at least minBackgroundContrast away
// from c.
func contrasting(c color.NRGBA) []named {
	var out []named
	for _, b := range backgrounds {
		if rgbDistance(b.rgb, c) >= minBackgroundContrast {
			out = append(out, b)
		}
	}
	return out
}

// rgbDistance is the Euclidean distance of two colours in 8-bit RGB.
func rgbDistance(a, b color.NRGBA) float64 {
	dr, dg, db := float64(a.R)-float64(b.R), float64(a.G)-float64(b.G), float64(a.B)-float64(b.B)
	return math.Sqrt(dr*dr + dg*dg + db*db)
}

// flatShape is a flat-filled shape on a flat background.
type flatShape struct {
	shape          func(x, y, r float64) float64
	fill, bg       color.NRGBA
	cx, cy, radius float64
	angle          float64
}

// distance is the shape's signed distance at canvas point (x, y).
func (f flatShape) distance(x, y float64) float64 {
	dx, dy := x-f.cx, y-f.cy
	c, s := math.Cos(f.angle), math.Sin(f.angle)
	return f.shape(c*dx+s*dy, -s*dx+c*dy, f.radius)
}

// at is the colour at canvas point (x, y).
func (f flatShape) at(x, y float64) color.NRGBA {
	if f.distance(x, y) < 0 {
		return f.fill
	}
	return f.bg
}

// solid reports the colour of a pixel with centre (x, y) that lies wholly
// inside or outside the shape: the distance functions never overstate the
// distance to the edge, so more than half a pixel diagonal (0.71) from the
// centre means the whole pixel is on one side.
func (f flatShape) solid(x, y float64) (color.NRGBA, bool) {
	d := f.distance(x, y)
	switch {
	case d > 0.75:
		return f.bg, true
	case d < -0.75:
		return f.fill, true
	}
	return color.NRGBA{}, false
}

// shapeExtents maps each shape's name to its outer radius for r = 1: the
// largest distance from the centre of a point inside it (measured along
// 720 rays, rounded up), so a shape drawn with radius R/extent lies within
// R of its centre at any rotation.
var shapeExtents = sync.OnceValue(func() map[string]float64 {
	out := map[string]float64{}
	for _, sh := range shapes {
		ext := 0.0
		for k := 0; k < 720; k++ {
			a := float64(k) * math.Pi / 360
			for r := 2.0; r > ext; r -= 0.001 {
				if sh.sdf(r*math.Cos(a), r*math.Sin(a), 1) < 0 {
					ext = r
					break
				}
			}
		}
		out[sh.name] = ext + 0.002
	}
	return out
})
