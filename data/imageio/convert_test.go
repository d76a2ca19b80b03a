package imageio

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestToRGB checks one pixel of every source pixel type against a value
// computed by hand from the compositing and rounding rules.
func TestToRGB(t *testing.T) {
	gray := color.NRGBA{128, 128, 128, 255}
	tests := []struct {
		name string
		img  image.Image
		bg   color.NRGBA
		want color.NRGBA
		tol  int // allowed difference per channel (Go's YCbCr fixed point)
	}{
		{"nrgba opaque", fill(image.NewNRGBA(image.Rect(0, 0, 2, 2)), color.NRGBA{10, 20, 30, 255}), white, color.NRGBA{10, 20, 30, 255}, 0},
		// 200·128/255 + 255·127/255 = 100.39 + 127 = 227.39 → 227
		{"nrgba half alpha on white", fill(image.NewNRGBA(image.Rect(0, 0, 2, 2)), color.NRGBA{200, 0, 100, 128}), white, color.NRGBA{227, 127, 177, 255}, 0},
		{"nrgba transparent on white", fill(image.NewNRGBA(image.Rect(0, 0, 2, 2)), color.NRGBA{200, 0, 100, 0}), white, white, 0},
		{"nrgba transparent on gray", fill(image.NewNRGBA(image.Rect(0, 0, 2, 2)), color.NRGBA{200, 0, 100, 0}), gray, gray, 0},
		// premultiplied (100, 0, 50, 128): 100 + 255·127/255 = 227
		{"rgba premultiplied", fill(image.NewRGBA(image.Rect(0, 0, 2, 2)), color.RGBA{100, 0, 50, 128}), white, color.NRGBA{227, 127, 177, 255}, 0},
		{"gray", fill(image.NewGray(image.Rect(0, 0, 2, 2)), color.Gray{77}), white, color.NRGBA{77, 77, 77, 255}, 0},
		// 0x1234·255/65535 = 18.13 → 18
		{"gray16", fill(image.NewGray16(image.Rect(0, 0, 2, 2)), color.Gray16{0x1234}), white, color.NRGBA{18, 18, 18, 255}, 0},
		// 0x8080 → 128 exactly; 0xFFFF → 255; 0x00FF → 0.99 → 1
		{"nrgba64 opaque", fill(image.NewNRGBA64(image.Rect(0, 0, 2, 2)), color.NRGBA64{0x8080, 0xFFFF, 0x00FF, 0xFFFF}), white, color.NRGBA{128, 255, 1, 255}, 0},
		// 16-bit straight alpha 0x8000 (≈0.5) over black: 0xFFFF·0.5 → 127.5 → 128
		{"nrgba64 half alpha on black", fill(image.NewNRGBA64(image.Rect(0, 0, 2, 2)), color.NRGBA64{0xFFFF, 0, 0, 0x8000}), color.NRGBA{0, 0, 0, 255}, color.NRGBA{128, 0, 0, 255}, 0},
		// CMYK (0, 255, 255, 0) is pure red; K=128 halves every channel: 255·127/255 = 127
		{"cmyk red", fill(image.NewCMYK(image.Rect(0, 0, 2, 2)), color.CMYK{0, 255, 255, 0}), white, color.NRGBA{255, 0, 0, 255}, 0},
		{"cmyk key", fill(image.NewCMYK(image.Rect(0, 0, 2, 2)), color.CMYK{0, 0, 0, 128}), white, color.NRGBA{127, 127, 127, 255}, 0},
		{"paletted transparent index", paletted(1), white, white, 0},
		{"paletted opaque index", paletted(0), white, color.NRGBA{0, 0, 255, 255}, 0},
		{"paletted index outside palette", paletted(7), gray, gray, 0},
		// YCbCr (128,128,128) is mid gray
		{"ycbcr", uniformYCbCr(color.YCbCr{128, 128, 128}), white, color.NRGBA{128, 128, 128, 255}, 0},
		// YCbCr (81, 90, 240) is JFIF red: R = 81 + 1.402·112 = 238.0, G = 81 − 0.344·(−38) − 0.714·112 = 14.1, B = 81 + 1.772·(−38) = 13.7
		{"ycbcr red", uniformYCbCr(color.YCbCr{81, 90, 240}), white, color.NRGBA{238, 14, 14, 255}, 1},
		{"offset bounds", fill(image.NewNRGBA(image.Rect(5, 7, 8, 9)), color.NRGBA{1, 2, 3, 255}), white, color.NRGBA{1, 2, 3, 255}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ToRGB(tc.img, tc.bg)
			b := tc.img.Bounds()
			if got.Rect != image.Rect(0, 0, b.Dx(), b.Dy()) {
				t.Fatalf("bounds %v, want origin-based %dx%d", got.Rect, b.Dx(), b.Dy())
			}
			if c := got.NRGBAAt(1, 1); !near(c, tc.want, tc.tol) {
				t.Errorf("pixel = %v, want %v", c, tc.want)
			}
		})
	}
}

// The fast paths must agree (±1) with the generic path on random pixels.
func TestToRGBFastPathsMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bg := color.NRGBA{30, 200, 90, 255}
	const w, h = 17, 9
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	ycc := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio422)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rng.IntN(256))
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			rgba.Set(x, y, nrgba.At(x, y)) // converts to premultiplied
			gray.Pix[y*gray.Stride+x] = uint8(rng.IntN(256))
		}
	}
	for i := range ycc.Y {
		ycc.Y[i] = uint8(rng.IntN(256))
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
	}
	for _, img := range []image.Image{nrgba, rgba, gray, ycc} {
		fast := ToRGB(img, bg)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g := compositeColor(img.At(x, y), bg)
				want := color.NRGBA{g[0], g[1], g[2], g[3]}
				if got := fast.NRGBAAt(x, y); !near(got, want, 1) {
					t.Fatalf("%T (%d,%d): fast %v, generic %v", img, x, y, got, want)
				}
			}
		}
	}
}

// fill sets every pixel of img to c.
func fill[T interface {
	image.Image
	Set(x, y int, c color.Color)
}](img T, c color.Color) T {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

// paletted returns a 2×2 image of palette index idx over a palette
// {opaque blue, transparent red}.
func paletted(idx uint8) *image.Paletted {
	p := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.NRGBA{0, 0, 255, 255}, color.NRGBA{255, 0, 0, 0}})
	for i := range p.Pix {
		p.Pix[i] = idx
	}
	return p
}

// uniformYCbCr returns a 2×2 4:2:0 YCbCr image of one colour.
func uniformYCbCr(c color.YCbCr) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, 2, 2), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = c.Y
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = c.Cb, c.Cr
	}
	return img
}
