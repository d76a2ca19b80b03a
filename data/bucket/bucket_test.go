package bucket

import (
	"image"
	"math"
	"testing"
)

func TestGenerateInvariants(t *testing.T) {
	for _, res := range []int{64, 128, 256, 512, 768, 1024, 1536} {
		for _, opts := range []Options{DefaultOptions(), {Multiple: 16, Step: 32, MaxAspect: 2}, {Multiple: 16, MaxAspect: 1}} {
			set, err := Generate(res, opts)
			if err != nil {
				t.Fatalf("res %d: %v", res, err)
			}
			seen := map[Bucket]bool{}
			hasSquare := false
			for i, b := range set.Buckets {
				long, short := max(b.Width, b.Height), min(b.Width, b.Height)
				switch {
				case b.Width%16 != 0 || b.Height%16 != 0:
					t.Errorf("res %d: %v not a multiple of 16", res, b)
				case b.Width*b.Height > res*res:
					t.Errorf("res %d: %v has more than res² pixels", res, b)
				case float64(long) > opts.MaxAspect*float64(short):
					t.Errorf("res %d: %v beyond aspect %g", res, b, opts.MaxAspect)
				case seen[b]:
					t.Errorf("res %d: %v twice", res, b)
				case i > 0 && set.Buckets[i-1].Aspect() > b.Aspect():
					t.Errorf("res %d: not sorted by aspect at %v", res, b)
				}
				// Area close to res²: the floor to a multiple of 16 loses
				// at most 16 rows of the longer side.
				if min := res*res - 16*long; b.Width*b.Height < min {
					t.Errorf("res %d: %v area %d below %d", res, b, b.Width*b.Height, min)
				}
				seen[b] = true
				hasSquare = hasSquare || b == Bucket{res, res}
			}
			if !hasSquare {
				t.Errorf("res %d: no square bucket", res)
			}
			for b := range seen {
				if !seen[Bucket{b.Height, b.Width}] {
					t.Errorf("res %d: %v without its transpose", res, b)
				}
			}
			if opts.MaxAspect == 1 && len(set.Buckets) != 1 {
				t.Errorf("res %d: aspect limit 1 gave %v", res, set.Buckets)
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		res  int
		opts Options
	}{
		{0, DefaultOptions()},
		{1000, DefaultOptions()}, // not a multiple of 16
		{16384, DefaultOptions()},
		{512, Options{Multiple: 16, MaxAspect: 0.5}},
		{512, Options{Multiple: 16, Step: 24, MaxAspect: 2}},
		{512, Options{Multiple: 0, MaxAspect: 2}},
	}
	for _, tc := range tests {
		if _, err := Generate(tc.res, tc.opts); err == nil {
			t.Errorf("Generate(%d, %+v): want error", tc.res, tc.opts)
		}
	}
}

// Hand-computed buckets at 1024 (step 64): width 768 → ⌊1048576/768/16⌋·16
// = 1360, transposed 1360x768 (aspect 1.771); width 1344 would give
// 1344x768 (1.75) but 1344 is not a step width; width 832 → 1248 (1.5).
func TestNearest(t *testing.T) {
	set, err := Generate(1024, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		w, h int
		want Bucket
	}{
		{1024, 1024, Bucket{1024, 1024}},
		{3000, 3000, Bucket{1024, 1024}},
		{1920, 1080, Bucket{1360, 768}}, // 16:9
		{1080, 1920, Bucket{768, 1360}},
		{3000, 2000, Bucket{1248, 832}}, // 3:2
		{2000, 3000, Bucket{832, 1248}},
		{10000, 100, set.Buckets[len(set.Buckets)-1]}, // beyond the limit: the widest
		{100, 10000, set.Buckets[0]},
	}
	for _, tc := range tests {
		if got := set.Nearest(tc.w, tc.h); got != tc.want {
			t.Errorf("Nearest(%d, %d) = %v, want %v", tc.w, tc.h, got, tc.want)
		}
	}
	// Nearest on a log scale: no other bucket is closer.
	for _, sz := range [][2]int{{1000, 700}, {640, 480}, {512, 900}, {1234, 567}} {
		got := set.Nearest(sz[0], sz[1])
		d := math.Abs(math.Log(got.Aspect() * float64(sz[1]) / float64(sz[0])))
		for _, b := range set.Buckets {
			if o := math.Abs(math.Log(b.Aspect() * float64(sz[1]) / float64(sz[0]))); o < d-1e-12 {
				t.Errorf("Nearest(%v) = %v but %v is closer", sz, got, b)
			}
		}
	}
}

func TestScale(t *testing.T) {
	tests := []struct {
		w, h int
		b    Bucket
		want float64
	}{
		{2048, 2048, Bucket{1024, 1024}, 0.5},
		{2000, 1000, Bucket{1024, 1024}, 1.024}, // height must reach 1024
		{300, 400, Bucket{512, 512}, 512.0 / 300},
	}
	for _, tc := range tests {
		if got := Scale(tc.w, tc.h, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Scale(%d,%d,%v) = %v, want %v", tc.w, tc.h, tc.b, got, tc.want)
		}
	}
}

func TestCropRect(t *testing.T) {
	tests := []struct {
		w, h   int
		b      Bucket
		offset float64
		want   image.Rectangle
	}{
		{1000, 500, Bucket{512, 512}, 0.5, image.Rect(250, 0, 750, 500)},
		{1000, 500, Bucket{512, 512}, 0, image.Rect(0, 0, 500, 500)},
		{1000, 500, Bucket{512, 512}, 1, image.Rect(500, 0, 1000, 500)},
		{1000, 500, Bucket{512, 512}, 7, image.Rect(500, 0, 1000, 500)}, // clamped
		{500, 1000, Bucket{512, 512}, 0.5, image.Rect(0, 250, 500, 750)},
		// 1920x1080 into 1360x768: height 1080 → width 1080·1360/768 = 1912.5 → 1913 (round half away from zero)
		{1920, 1080, Bucket{1360, 768}, 0.5, image.Rect(4, 0, 1917, 1080)},
		{640, 480, Bucket{640, 480}, 0.5, image.Rect(0, 0, 640, 480)},
		{1, 1000, Bucket{1024, 512}, 0.5, image.Rect(0, 500, 1, 500+1)},
	}
	for _, tc := range tests {
		if got := CropRect(tc.w, tc.h, tc.b, tc.offset); got != tc.want {
			t.Errorf("CropRect(%d,%d,%v,%g) = %v, want %v", tc.w, tc.h, tc.b, tc.offset, got, tc.want)
		}
	}
}
