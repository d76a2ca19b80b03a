// Package bucket computes aspect-ratio buckets: for a target resolution R,
// a set of image sizes of about R² pixels whose sides are multiples of 16
// (FLUX.2: VAE ×8 then 2×2 patches), within an aspect-ratio limit. Each image
// trains at the bucket nearest to its own aspect ratio, so images of
// different shapes are neither squashed nor heavily cropped, and every
// batch holds images of one bucket.
package bucket

import (
	"fmt"
	"image"
	"math"
	"sort"
)

// Bucket is a training image size in pixels.
type Bucket struct {
	Width, Height int
}

// String formats the bucket as "WxH".
func (b Bucket) String() string { return fmt.Sprintf("%dx%d", b.Width, b.Height) }

// Aspect is width / height.
func (b Bucket) Aspect() float64 { return float64(b.Width) / float64(b.Height) }

// Options shape the bucket set of a resolution.
type Options struct {
	// Multiple is the alignment of every side in pixels (16 for FLUX.2).
	Multiple int
	// Step is the width increment between candidate buckets; 0 picks R/16
	// rounded down to Multiple (64 at 1024, 32 at 512), at least Multiple.
	Step int
	// MaxAspect bounds longest side / shortest side of a bucket.
	MaxAspect float64
}

// DefaultOptions returns 16-pixel alignment, automatic step and an aspect
// limit of 2.5 (wide enough for 21:9).
func DefaultOptions() Options {
	return Options{Multiple: 16, MaxAspect: 2.5}
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	switch {
	case o.Multiple < 1 || o.Multiple > 1024:
		return fmt.Errorf("bucket side multiple must be in [1, 1024], got %d", o.Multiple)
	case o.Step < 0 || (o.Step > 0 && o.Step%o.Multiple != 0):
		return fmt.Errorf("bucket step must be 0 (automatic) or a multiple of %d, got %d", o.Multiple, o.Step)
	case !(o.MaxAspect >= 1 && o.MaxAspect <= 16):
		return fmt.Errorf("bucket max aspect ratio must be in [1, 16], got %g", o.MaxAspect)
	}
	return nil
}

// Set is the buckets of one resolution, sorted by aspect ratio (tall to
// wide).
type Set struct {
	Resolution int
	Buckets    []Bucket
}

// MaxResolution bounds the resolutions Generate accepts.
const MaxResolution = 8192

// Generate returns the buckets for resolution res: every width w that is a
// multiple of the step, with height ⌊res²/w⌋ rounded down to the multiple,
// and the transposed sizes, keeping those within the aspect limit. The
// square res×res is always included; every bucket has at most res² pixels.
func Generate(res int, opts Options) (Set, error) {
	if err := opts.Validate(); err != nil {
		return Set{}, err
	}
	if res < opts.Multiple || res > MaxResolution || res%opts.Multiple != 0 {
		return Set{}, fmt.Errorf("resolution must be a multiple of %d in [%d, %d], got %d", opts.Multiple, opts.Multiple, MaxResolution, res)
	}
	step := opts.Step
	if step == 0 {
		step = max(opts.Multiple, res/16/opts.Multiple*opts.Multiple)
	}
	area := res * res
	seen := map[Bucket]bool{}
	var out []Bucket
	add := func(b Bucket) {
		long, short := max(b.Width, b.Height), min(b.Width, b.Height)
		if short < opts.Multiple || float64(long) > opts.MaxAspect*float64(short)+1e-9 || seen[b] {
			return
		}
		seen[b] = true
		out = append(out, b)
	}
	add(Bucket{res, res})
	for w := step; w <= res; w += step {
		h := area / w / opts.Multiple * opts.Multiple
		add(Bucket{w, h})
		add(Bucket{h, w})
	}
	sort.Slice(out, func(i, j int) bool {
		ai, aj := out[i].Aspect(), out[j].Aspect()
		if ai != aj {
			return ai < aj
		}
		return out[i].Width < out[j].Width
	})
	return Set{Resolution: res, Buckets: out}, nil
}

// Nearest returns the bucket whose aspect ratio is closest to w/h on a log
// scale (so 2:1 and 1:2 are equally far from 1:1). Ties go to the larger
// bucket. The set must not be empty.
func (s Set) Nearest(w, h int) Bucket {
	target := math.Log(float64(w) / float64(h))
	best, bestDist := s.Buckets[0], math.Inf(1)
	for _, b := range s.Buckets {
		d := math.Abs(math.Log(b.Aspect()) - target)
		if d < bestDist-1e-12 || (math.Abs(d-bestDist) <= 1e-12 && b.Width*b.Height > best.Width*best.Height) {
			best, bestDist = b, d
		}
	}
	return best
}

// Scale is the factor an image of w×h pixels is resized by to cover bucket
// b (the larger of the two side ratios); above 1 means upscaling.
func Scale(w, h int, b Bucket) float64 {
	return max(float64(b.Width)/float64(w), float64(b.Height)/float64(h))
}

// CropRect returns the largest rectangle of the bucket's aspect ratio inside
// a w×h image, positioned along the axis with slack by offset in [0, 1]
// (0 = left/top, 0.5 = centre, 1 = right/bottom). Resizing that rectangle to
// the bucket size is the same as resizing the image to cover the bucket and
// cropping.
func CropRect(w, h int, b Bucket, offset float64) image.Rectangle {
	offset = min(max(offset, 0), 1)
	cw, ch := w, h
	if int64(w)*int64(b.Height) > int64(h)*int64(b.Width) { // image wider than the bucket
		cw = max(1, min(w, int(math.Round(float64(h)*b.Aspect()))))
	} else {
		ch = max(1, min(h, int(math.Round(float64(w)/b.Aspect()))))
	}
	x0 := int(math.Round(float64(w-cw) * offset))
	y0 := int(math.Round(float64(h-ch) * offset))
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// Rect is the rectangle (0,0)–(Width,Height).
func (b Bucket) Rect() image.Rectangle { return image.Rect(0, 0, b.Width, b.Height) }
