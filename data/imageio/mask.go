package imageio

import (
	"image"
	"image/color"
)

// MaskSource says which plane of an image DecodeMask reads.
type MaskSource int

// The mask sources.
const (
	// MaskLuminance reads a mask file: its luminance (ITU-R BT.601, as
	// color.GrayModel; a grayscale file as stored), transparent pixels
	// counting as black. White is 255.
	MaskLuminance MaskSource = iota
	// MaskAlpha reads the alpha channel of an image: opaque is 255.
	MaskAlpha
)

// DecodeMask decodes an encoded image to one 8-bit plane, the luminance
// or the alpha channel (src), with its EXIF orientation applied, so it
// lines up with the image Decode returns for the same file. Errors are
// *DecodeError, as Decode's.
func DecodeMask(data []byte, src MaskSource, opts Options) (*image.Gray, Info, error) {
	img, info, err := decodeRaw(data, opts)
	if err != nil {
		return nil, info, err
	}
	b := img.Bounds()
	gray := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch {
	case src == MaskLuminance:
		if g, ok := img.(*image.Gray); ok {
			for y := 0; y < b.Dy(); y++ {
				copy(gray.Pix[y*gray.Stride:y*gray.Stride+b.Dx()], g.Pix[y*g.Stride:])
			}
			break
		}
		rgb := ToRGB(img, color.NRGBA{A: 255}) // composited on black
		for y := 0; y < b.Dy(); y++ {
			row := rgb.Pix[y*rgb.Stride:]
			out := gray.Pix[y*gray.Stride:]
			for x := range b.Dx() {
				p := row[4*x : 4*x+3]
				out[x] = color.GrayModel.Convert(color.NRGBA{p[0], p[1], p[2], 255}).(color.Gray).Y
			}
		}
	default:
		for y := 0; y < b.Dy(); y++ {
			out := gray.Pix[y*gray.Stride:]
			for x := range b.Dx() {
				_, _, _, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				out[x] = uint8(a >> 8)
			}
		}
	}
	return orientGray(gray, info.Orientation), info, nil
}

// orientGray applies an EXIF orientation to a mask plane, as Orient does
// to an image.
func orientGray(g *image.Gray, o Orientation) *image.Gray {
	if o == OrientNormal || o == 0 {
		return g
	}
	// imaging works on NRGBA: carry the plane in R and take it back.
	n := image.NewNRGBA(g.Rect)
	for i, v := range g.Pix[:g.Rect.Dx()*g.Rect.Dy()] {
		n.Pix[4*i], n.Pix[4*i+3] = v, 255
	}
	r := Orient(n, o)
	out := image.NewGray(image.Rect(0, 0, r.Rect.Dx(), r.Rect.Dy()))
	for y := 0; y < r.Rect.Dy(); y++ {
		for x := 0; x < r.Rect.Dx(); x++ {
			out.Pix[y*out.Stride+x] = r.Pix[y*r.Stride+4*x]
		}
	}
	return out
}

// CropResizeGray is CropResize for a mask plane: rect of src (clipped)
// resampled to width×height with the same Lanczos-3 filter, or copied when
// it has that size already, so a mask stays aligned with its image.
func CropResizeGray(src *image.Gray, rect image.Rectangle, width, height int) (*image.Gray, error) {
	n := image.NewNRGBA(src.Rect)
	for y := src.Rect.Min.Y; y < src.Rect.Max.Y; y++ {
		row := src.Pix[(y-src.Rect.Min.Y)*src.Stride:]
		out := n.Pix[(y-src.Rect.Min.Y)*n.Stride:]
		for x := range src.Rect.Dx() {
			out[4*x], out[4*x+3] = row[x], 255
		}
	}
	r, err := CropResize(n, rect, width, height)
	if err != nil {
		return nil, err
	}
	out := image.NewGray(image.Rect(0, 0, width, height))
	for y := range height {
		for x := range width {
			out.Pix[y*out.Stride+x] = r.Pix[y*r.Stride+4*x]
		}
	}
	return out, nil
}
