package imageio

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// photoLike returns a w×h image with smooth gradients plus noise, so that it
// compresses like a photograph rather than like a flat test card.
func photoLike(w, h int) *image.NRGBA {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := rng.IntN(24)
			img.SetNRGBA(x, y, color.NRGBA{uint8(x*200/w + n), uint8(y*200/h + n), uint8((x+y)*100/(w+h) + n), 255})
		}
	}
	return img
}

// BenchmarkDecodeResize measures the per-image preprocessing of training at
// 1024²: JPEG decode + colour conversion + EXIF check, crop to the bucket
// aspect, Lanczos resize, conversion to float32 CHW. Reports images/s.
func BenchmarkDecodeResize(b *testing.B) {
	for _, tc := range []struct {
		w, h   int
		bw, bh int
	}{
		{1024, 1024, 1024, 1024}, // already bucket-sized: no resampling
		{1536, 1536, 1024, 1024}, // downscale ×0.67
		{2048, 1365, 1248, 832},  // 3:2 photo to the 3:2 bucket
		{4032, 3024, 1168, 896},  // 12 MP phone photo
	} {
		data := encodeJPEG(b, photoLike(tc.w, tc.h))
		b.Run(fmt.Sprintf("%dx%d_to_%dx%d", tc.w, tc.h, tc.bw, tc.bh), func(b *testing.B) {
			var dst []float32
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				img, _, err := Decode(data, DefaultOptions())
				if err != nil {
					b.Fatal(err)
				}
				// Centre crop of the bucket's aspect ratio.
				cw, ch := tc.w, tc.h
				if tc.w*tc.bh > tc.h*tc.bw {
					cw = tc.h * tc.bw / tc.bh
				} else {
					ch = tc.w * tc.bh / tc.bw
				}
				x0, y0 := (tc.w-cw)/2, (tc.h-ch)/2
				out, err := CropResize(img, image.Rect(x0, y0, x0+cw, y0+ch), tc.bw, tc.bh)
				if err != nil {
					b.Fatal(err)
				}
				dst = ToCHW(out, false, dst)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkStages splits the 1536² → 1024² case into its stages.
func BenchmarkStages(b *testing.B) {
	src := photoLike(1536, 1536)
	data := encodeJPEG(b, src)
	b.Run("jpeg.Decode+ToRGB", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := Decode(data, DefaultOptions()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Lanczos", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := CropResize(src, src.Rect, 1024, 1024); err != nil {
				b.Fatal(err)
			}
		}
	})
	small := photoLike(1024, 1024)
	b.Run("ToCHW", func(b *testing.B) {
		var dst []float32
		for i := 0; i < b.N; i++ {
			dst = ToCHW(small, true, dst)
		}
	})
}

// BenchmarkToRGBYCbCr measures the YCbCr → RGB conversion of a decoded
// 1536² 4:2:0 JPEG.
func BenchmarkToRGBYCbCr(b *testing.B) {
	img, err := jpegDecodeRaw(encodeJPEG(b, photoLike(1536, 1536)))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		ToRGB(img, white)
	}
}
