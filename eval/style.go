package eval

import (
	"image"
	"math"
	"sort"
)

// The style score: how "flora style" an image looks, measured from pixels
// alone. The flora style (package data/synth) draws a cream background
// (244, 235, 208) with diagonal stripes of period 8 px at 64×64 running
// along x+y (scaled with the image's shorter side / 64), a dark outline,
// hatched fill and a drop shadow. Two of these are easy to measure on
// small, blurry generated images and absent from plain images:
//
//   - StripeEnergy: the share of luminance variance at the stripe
//     frequency, in the most stripe-like background tiles;
//   - BackgroundDistance: how far the image's border (nearly always
//     background in our images) is from the cream.
//
// StyleScore combines them into one number in [0, 1].

// Cream is the flora style's background colour (8-bit RGB).
var Cream = [3]float64{244, 235, 208}

// StripePeriod is the period of the style's background stripes in pixels
// at a 64-pixel shorter side; it scales with the side like synth's unit.
const StripePeriod = 8

// StripeReference is the stripe energy of ideal flora-style background:
// the share of a 50% duty square wave's variance in its fundamental, 8/π².
// StyleScore divides by it.
var StripeReference = 8 / (math.Pi * math.Pi)

// noiseFloor is added to every tile's luminance variance (luminance in
// 0–1): one 8-bit level squared, so flat and nearly flat tiles score ~0
// instead of amplifying rounding noise.
const noiseFloor = 1.0 / (255 * 255)

// Style is the style measurements of one image.
type Style struct {
	// StripeEnergy is in [0, 1]: ~0.9 for the style's stripes, ~0 for
	// flat or unstriped backgrounds.
	StripeEnergy float64 `json:"stripe_energy"`
	// BackgroundDistance is in [0, 1]: 0 for a cream border, ~1 for black.
	BackgroundDistance float64 `json:"background_distance"`
	// Score is StyleScore's combination of the two.
	Score float64 `json:"style_score"`
}

// MeasureStyle measures the style of an RGB image (alpha is ignored).
func MeasureStyle(img image.Image) Style {
	s := Style{StripeEnergy: StripeEnergy(img), BackgroundDistance: BackgroundDistance(img)}
	s.Score = combineStyle(s.StripeEnergy, s.BackgroundDistance)
	return s
}

// StyleScore is how flora-style an image looks, in [0, 1]:
// 0.5·min(1, StripeEnergy/StripeReference) + 0.5·(1 − BackgroundDistance).
// The demo set scores 0.98–0.99, plain shapes on flat backgrounds
// (synth.GenerateBase, 3000 images) 0.0–0.53, mean 0.25.
func StyleScore(img image.Image) float64 { return MeasureStyle(img).Score }

func combineStyle(stripe, distance float64) float64 {
	return 0.5*math.Min(1, stripe/StripeReference) + 0.5*(1-distance)
}

// styleUnit is pixels per style unit: the shorter side / 64.
func styleUnit(b image.Rectangle) float64 { return float64(min(b.Dx(), b.Dy())) / 64 }

// StripeEnergy measures the style's diagonal stripes. The luminance is cut
// into square tiles of one stripe period (8 px at 64×64); in each, the
// share of the tile's luminance variance carried by the sinusoid of the
// stripe frequency (1/p, 1/p) cycles per pixel along x+y (p the scaled
// period) is 2|F|² / (N·(Σ(L−mean)² + N·floor)), F the tile's DFT at that
// frequency, N its pixel count, floor one 8-bit level squared. A pure
// sinusoid scores 1, the style's square-wave stripes 8/π² ≈ 0.81 (0.87–0.93
// antialiased, which rounds the square wave), stripes along x−y and flat
// tiles 0, shape edges little. The result is the mean of the top quarter
// of tiles: the shape covers the centre tiles, the stripes show in the
// background ones. Images smaller than one tile score 0.
func StripeEnergy(img image.Image) float64 {
	b := img.Bounds()
	period := StripePeriod * styleUnit(b)
	tile := int(math.Round(period))
	if tile < 4 || b.Dx() < tile || b.Dy() < tile {
		return 0
	}
	lum := luminance(img)
	w := b.Dx()
	var shares []float64
	for ty := 0; ty+tile <= b.Dy(); ty += tile {
		for tx := 0; tx+tile <= w; tx += tile {
			shares = append(shares, tileStripeShare(lum, w, tx, ty, tile, period))
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(shares)))
	top := shares[:max(1, len(shares)/4)]
	var sum float64
	for _, s := range top {
		sum += s
	}
	return sum / float64(len(top))
}

// tileStripeShare is the share of a tile's luminance variance at the
// stripe frequency (see StripeEnergy).
func tileStripeShare(lum []float64, w, tx, ty, tile int, period float64) float64 {
	n := float64(tile * tile)
	var mean float64
	for y := ty; y < ty+tile; y++ {
		for x := tx; x < tx+tile; x++ {
			mean += lum[y*w+x]
		}
	}
	mean /= n
	var re, im, ss float64
	for y := ty; y < ty+tile; y++ {
		for x := tx; x < tx+tile; x++ {
			v := lum[y*w+x] - mean
			ss += v * v
			a := 2 * math.Pi * float64(x+y) / period
			re += v * math.Cos(a)
			im -= v * math.Sin(a)
		}
	}
	return math.Min(1, 2*(re*re+im*im)/(n*(ss+n*noiseFloor)))
}

// luminance returns the Rec. 601 luma of every pixel in 0–1, row-major.
func luminance(img image.Image) []float64 {
	b := img.Bounds()
	out := make([]float64, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl := rgb8(img, x, y)
			out = append(out, (0.299*r+0.587*g+0.114*bl)/255)
		}
	}
	return out
}

// rgb8 is a pixel's colour in 8-bit units (alpha-premultiplied as
// image.Image reports; our images are opaque).
func rgb8(img image.Image, x, y int) (r, g, b float64) {
	cr, cg, cb, _ := img.At(x, y).RGBA()
	return float64(cr) / 257, float64(cg) / 257, float64(cb) / 257
}

// BackgroundDistance is the mean distance of the image's border pixels (a
// frame 4 px wide at 64×64, scaled with the shorter side / 64, at least 1)
// from the style's cream: the Euclidean RGB distance divided by that of
// black from white (255·√3), so 0 is cream and 1 the farthest possible.
func BackgroundDistance(img image.Image) float64 {
	b := img.Bounds()
	if b.Empty() {
		return 1
	}
	frame := max(1, int(math.Round(4*styleUnit(b))))
	var sum float64
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if x >= b.Min.X+frame && x < b.Max.X-frame && y >= b.Min.Y+frame && y < b.Max.Y-frame {
				continue
			}
			r, g, bl := rgb8(img, x, y)
			dr, dg, db := r-Cream[0], g-Cream[1], bl-Cream[2]
			sum += math.Sqrt(dr*dr + dg*dg + db*db)
			n++
		}
	}
	return sum / float64(n) / (255 * math.Sqrt(3))
}

// StyleStats summarises the style of a set of images.
type StyleStats struct {
	// N is the number of images.
	N int `json:"n"`
	// Mean and Std are the mean and (population) standard deviation of
	// their StyleScore.
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// StripeEnergy and BackgroundDistance are the means of the parts.
	StripeEnergy       float64 `json:"stripe_energy"`
	BackgroundDistance float64 `json:"background_distance"`
}

// DatasetStyle measures every image and returns the mean and spread of the
// scores (zero stats for no images).
func DatasetStyle(images []image.Image) StyleStats {
	styles := make([]Style, len(images))
	for i, img := range images {
		styles[i] = MeasureStyle(img)
	}
	return SummariseStyles(styles)
}

// SummariseStyles is DatasetStyle over styles already measured.
func SummariseStyles(styles []Style) StyleStats {
	st := StyleStats{N: len(styles)}
	if st.N == 0 {
		return st
	}
	for _, s := range styles {
		st.Mean += s.Score
		st.StripeEnergy += s.StripeEnergy
		st.BackgroundDistance += s.BackgroundDistance
	}
	n := float64(st.N)
	st.Mean, st.StripeEnergy, st.BackgroundDistance = st.Mean/n, st.StripeEnergy/n, st.BackgroundDistance/n
	for _, s := range styles {
		st.Std += (s.Score - st.Mean) * (s.Score - st.Mean)
	}
	st.Std = math.Sqrt(st.Std / n)
	return st
}
