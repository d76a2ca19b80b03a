package imageio

import (
	"image"
	"image/color"
)

// ToRGB converts any decoded image to an opaque 8-bit *image.NRGBA (alpha
// 255 everywhere) whose bounds start at (0,0). Transparent pixels are
// composited over bg ("straight" alpha: out = c·a + bg·(1−a)); 16-bit
// channels are rounded to 8 bits; palette, grayscale, YCbCr and CMYK images
// are converted to RGB. Common types take fast paths; the result is the same
// as the generic path up to rounding of 16-bit intermediates.
func ToRGB(img image.Image, bg color.NRGBA) *image.NRGBA {
	b := img.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(dst, src)
	case *image.Gray:
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+b.Dx()]
			out := dst.Pix[y*dst.Stride:]
			for x, v := range row {
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, 255
			}
		}
	case *image.NRGBA:
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+4*b.Dx()]
			out := dst.Pix[y*dst.Stride:]
			for i := 0; i < len(row); i += 4 {
				a := uint32(row[i+3])
				out[i] = blend8(row[i], bg.R, a)
				out[i+1] = blend8(row[i+1], bg.G, a)
				out[i+2] = blend8(row[i+2], bg.B, a)
				out[i+3] = 255
			}
		}
	case *image.RGBA: // premultiplied
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+4*b.Dx()]
			out := dst.Pix[y*dst.Stride:]
			for i := 0; i < len(row); i += 4 {
				inv := 255 - uint32(row[i+3])
				out[i] = premulBlend8(row[i], bg.R, inv)
				out[i+1] = premulBlend8(row[i+1], bg.G, inv)
				out[i+2] = premulBlend8(row[i+2], bg.B, inv)
				out[i+3] = 255
			}
		}
	case *image.Paletted:
		lut := make([][4]uint8, len(src.Palette))
		for i, c := range src.Palette {
			lut[i] = compositeColor(c, bg)
		}
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+b.Dx()]
			out := dst.Pix[y*dst.Stride:]
			for x, idx := range row {
				c := [4]uint8{bg.R, bg.G, bg.B, 255} // out-of-palette index: background
				if int(idx) < len(lut) {
					c = lut[idx]
				}
				copy(out[4*x:4*x+4], c[:])
			}
		}
	default:
		for y := 0; y < b.Dy(); y++ {
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				c := compositeColor(src.At(b.Min.X+x, b.Min.Y+y), bg)
				copy(out[4*x:4*x+4], c[:])
			}
		}
	}
	return dst
}

// ycbcrToRGB converts a JPEG-style (JFIF, full-range BT.601) YCbCr image
// with any chroma subsampling, row by row with fixed-point arithmetic.
func ycbcrToRGB(dst *image.NRGBA, src *image.YCbCr) {
	b := src.Bounds()
	var hs, vs uint // chroma subsampling shifts
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	default:
		hs = 99 // unknown: generic path below
	}
	if hs == 99 || b.Min != (image.Point{}) {
		for y := 0; y < b.Dy(); y++ {
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = r, g, bl, 255
			}
		}
		return
	}
	w := b.Dx()
	for y := 0; y < b.Dy(); y++ {
		yRow := src.Y[y*src.YStride : y*src.YStride+w]
		cOff := (y >> vs) * src.CStride
		cbRow, crRow := src.Cb[cOff:], src.Cr[cOff:]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x, yy := range yRow {
			r, g, bl := ycc(yy, cbRow[x>>hs], crRow[x>>hs])
			o := out[4*x : 4*x+4 : 4*x+4]
			o[0], o[1], o[2], o[3] = r, g, bl, 255
		}
	}
}

// ycc converts one full-range YCbCr sample to RGB with the JFIF equations
// (R = Y + 1.402 Cr', G = Y − 0.34414 Cb' − 0.71414 Cr', B = Y + 1.772 Cb')
// in 16.16 fixed point, rounded and clamped.
func ycc(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int32(y)<<16 + 1<<15
	cb1, cr1 := int32(cb)-128, int32(cr)-128
	return clamp8((yy + 91881*cr1) >> 16), clamp8((yy - 22554*cb1 - 46802*cr1) >> 16), clamp8((yy + 116130*cb1) >> 16)
}

func clamp8(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// blend8 composites a straight-alpha 8-bit channel c with coverage a over bg.
func blend8(c, bg uint8, a uint32) uint8 {
	return uint8((uint32(c)*a + uint32(bg)*(255-a) + 127) / 255)
}

// premulBlend8 composites a premultiplied 8-bit channel c over bg, where inv
// is 255 − alpha.
func premulBlend8(c, bg uint8, inv uint32) uint8 {
	v := uint32(c) + (uint32(bg)*inv+127)/255
	return uint8(min(v, 255))
}

// compositeColor composites any colour over bg through 16-bit premultiplied
// arithmetic and rounds to 8 bits.
func compositeColor(c color.Color, bg color.NRGBA) [4]uint8 {
	r, g, b, a := c.RGBA() // premultiplied, 0..0xffff
	inv := 0xffff - a
	ch := func(v uint32, bg uint8) uint8 {
		bg16 := uint32(bg) * 0x101
		v16 := v + (bg16*inv+0x7fff)/0xffff
		v16 = min(v16, 0xffff)
		return uint8((v16*255 + 0x7fff) / 0xffff)
	}
	return [4]uint8{ch(r, bg.R), ch(g, bg.G), ch(b, bg.B), 255}
}
