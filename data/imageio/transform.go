package imageio

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"
)

// CropResize crops src to rect (in src pixel coordinates, clipped to the
// image) and resamples the crop to width×height with a Lanczos-3 filter. When
// the crop already has that size it is copied without resampling.
func CropResize(src *image.NRGBA, rect image.Rectangle, width, height int) (*image.NRGBA, error) {
	rect = rect.Intersect(src.Rect)
	if rect.Empty() || width <= 0 || height <= 0 {
		return nil, fmt.Errorf("crop %v of a %dx%d image to %dx%d: empty rectangle", rect, src.Rect.Dx(), src.Rect.Dy(), width, height)
	}
	sub := src.SubImage(rect).(*image.NRGBA)
	if rect.Dx() == width && rect.Dy() == height {
		return imaging.Clone(sub), nil
	}
	return imaging.Resize(sub, width, height, imaging.Lanczos), nil
}

// ChannelsRGB is the number of channels of the float tensors ToCHW writes.
const ChannelsRGB = 3

// ToCHW converts an opaque RGB image to a float32 tensor [3, H, W] (row-major,
// channels R, G, B) with values v/127.5 − 1 in [−1, 1], mirrored left-right
// when flip is set. dst is reused when it has room for 3·H·W values.
func ToCHW(img *image.NRGBA, flip bool, dst []float32) []float32 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	n := w * h
	if cap(dst) < ChannelsRGB*n {
		dst = make([]float32, ChannelsRGB*n)
	}
	dst = dst[:ChannelsRGB*n]
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:]
	for y := 0; y < h; y++ {
		row := img.Pix[(y)*img.Stride : y*img.Stride+4*w]
		o := y * w
		for x := 0; x < w; x++ {
			ox := x
			if flip {
				ox = w - 1 - x
			}
			p := row[4*x : 4*x+3]
			r[o+ox] = float32(p[0])/127.5 - 1
			g[o+ox] = float32(p[1])/127.5 - 1
			b[o+ox] = float32(p[2])/127.5 - 1
		}
	}
	return dst
}
