package vae

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Conversions between 8-bit RGB images and the float pixels the autoencoder
// reads and writes ([B, 3, H, W], values in [-1, 1]).
//
// Into the model both references compute (v/255)·2 − 1 in float32, which is
// what PixelsFromImages and PixelsFromRGB do. Out of the model they differ
// (flux2-spec.md §6.5): Black Forest Labs clamps to [-1, 1] and truncates
// 127.5·(x + 1) toward zero (PixelTruncate); diffusers clamps x/2 + 0.5 to
// [0, 1], multiplies by 255 and rounds half to even (numpy's round,
// PixelRound). Flora uses PixelRound by default: it is unbiased, while
// truncation darkens every pixel by half a level on average. The two differ
// by at most one level.

// PixelRounding selects how float pixels become 8-bit values.
type PixelRounding int

const (
	// PixelRound is diffusers' conversion: round-half-to-even of
	// 255·clamp(x/2 + 0.5, 0, 1).
	PixelRound PixelRounding = iota
	// PixelTruncate is Black Forest Labs' conversion:
	// uint8(127.5·(clamp(x, −1, 1) + 1)) truncated toward zero.
	PixelTruncate
)

// maxPixels bounds the images converted at once (elements of the tensor).
const maxPixels = 1 << 31

// PixelsFromRGB converts n interleaved 8-bit RGB images (rgb holds n·h·w·3
// bytes, row-major, image after image) to pixels [n, 3, h, w] in [-1, 1].
func PixelsFromRGB(rgb []byte, n, h, w int) (*tensors.Tensor, error) {
	if _, ok := boundedCount(maxPixels, n, 3, h, w); !ok {
		return nil, fmt.Errorf("RGB images %d × %dx%d: sizes must be positive and hold at most %d values", n, w, h, maxPixels)
	}
	if len(rgb) != n*h*w*3 {
		return nil, fmt.Errorf("RGB buffer has %d bytes, want %d for %d images of %dx%d", len(rgb), n*h*w*3, n, h, w)
	}
	out := make([]float32, n*3*h*w)
	plane := h * w
	for b := 0; b < n; b++ {
		for p := 0; p < plane; p++ {
			src := rgb[(b*plane+p)*3:]
			for c := 0; c < 3; c++ {
				out[(b*3+c)*plane+p] = byteToPixel(src[c])
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, n, 3, h, w), nil
}

// boundedCount returns the product of dims when every one is positive and
// the product is at most limit (without overflowing).
func boundedCount(limit int, dims ...int) (int, bool) {
	n := 1
	for _, d := range dims {
		if d <= 0 || d > limit/n {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// byteToPixel is (v/255)·2 − 1 in float32, the references' order of operations.
func byteToPixel(v byte) float32 {
	x := float32(v) / 255
	return float32(2*x) - 1
}

// PixelsFromImages converts images of one size to pixels [B, 3, H, W] in
// [-1, 1]. Colours are taken without alpha premultiplication and alpha is
// dropped (like PIL's convert("RGB")).
func PixelsFromImages(imgs []image.Image) (*tensors.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("no images")
	}
	bounds := imgs[0].Bounds()
	h, w := bounds.Dy(), bounds.Dx()
	if _, ok := boundedCount(maxPixels, len(imgs), 3, h, w); !ok {
		return nil, fmt.Errorf("images of %dx%d (×%d) are empty or too large", w, h, len(imgs))
	}
	rgb := make([]byte, len(imgs)*h*w*3)
	for i, img := range imgs {
		b := img.Bounds()
		if b.Dx() != w || b.Dy() != h {
			return nil, fmt.Errorf("image %d is %dx%d, image 0 is %dx%d: batch images must have one size", i, b.Dx(), b.Dy(), w, h)
		}
		dst := rgb[i*h*w*3:]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, bl := rgbAt(img, b.Min.X+x, b.Min.Y+y)
				o := (y*w + x) * 3
				dst[o], dst[o+1], dst[o+2] = r, g, bl
			}
		}
	}
	return PixelsFromRGB(rgb, len(imgs), h, w)
}

// rgbAt returns the non-premultiplied 8-bit colour at (x, y).
func rgbAt(img image.Image, x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.NRGBA:
		o := m.PixOffset(x, y)
		return m.Pix[o], m.Pix[o+1], m.Pix[o+2]
	case *image.RGBA:
		o := m.PixOffset(x, y)
		if m.Pix[o+3] == 0xff {
			return m.Pix[o], m.Pix[o+1], m.Pix[o+2]
		}
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return c.R, c.G, c.B
}

// RGBFromPixels converts pixels [B, 3, H, W] (float32) to interleaved 8-bit
// RGB, one []byte of H·W·3 per image.
func RGBFromPixels(pixels *tensors.Tensor, mode PixelRounding) ([][]byte, error) {
	d := pixels.Shape().Dimensions
	if pixels.DType() != dtypes.Float32 || len(d) != 4 || d[1] != 3 {
		return nil, fmt.Errorf("pixels must be float32 [B, 3, H, W], got %s", pixels.Shape())
	}
	n, plane := d[0], d[2]*d[3]
	out := make([][]byte, n)
	err := tensors.ConstFlatData(pixels, func(flat []float32) {
		for b := 0; b < n; b++ {
			rgb := make([]byte, plane*3)
			for c := 0; c < 3; c++ {
				src := flat[(b*3+c)*plane:]
				for p := 0; p < plane; p++ {
					rgb[p*3+c] = PixelToByte(src[p], mode)
				}
			}
			out[b] = rgb
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ImagesFromPixels converts pixels [B, 3, H, W] (float32) to opaque images.
func ImagesFromPixels(pixels *tensors.Tensor, mode PixelRounding) ([]*image.NRGBA, error) {
	rgbs, err := RGBFromPixels(pixels, mode)
	if err != nil {
		return nil, err
	}
	h, w := pixels.Shape().Dim(2), pixels.Shape().Dim(3)
	out := make([]*image.NRGBA, len(rgbs))
	for i, rgb := range rgbs {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for p := 0; p < h*w; p++ {
			copy(img.Pix[p*4:p*4+3], rgb[p*3:p*3+3])
			img.Pix[p*4+3] = 0xff
		}
		out[i] = img
	}
	return out, nil
}

// PixelToByte converts one float pixel to 8 bits (NaN becomes 0).
func PixelToByte(x float32, mode PixelRounding) byte {
	if x != x { // NaN
		return 0
	}
	if mode == PixelTruncate {
		x = min(max(x, -1), 1)
		// Explicit float32 conversions force the references' float32
		// roundings (Go may otherwise fuse operations); byte() truncates.
		return byte(float32(127.5 * float32(x+1)))
	}
	y := min(max(float32(x/2)+0.5, 0), 1)
	return byte(math.RoundToEven(float64(float32(y * 255))))
}
