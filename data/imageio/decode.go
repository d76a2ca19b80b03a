package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/flora-ml/flora/internal/fsutil"
)

// Options control decoding.
type Options struct {
	// Background is the colour transparent pixels are composited over
	// (its alpha is ignored).
	Background color.NRGBA
	// MaxPixels refuses images with more pixels (width × height, before
	// decoding, so a hostile header cannot make Flora allocate gigabytes).
	MaxPixels int
}

// DefaultMaxPixels is the default pixel limit: 100 megapixels.
const DefaultMaxPixels = 100_000_000

// DefaultMaxFileBytes bounds the size of an image file read into memory.
const DefaultMaxFileBytes = 512 << 20

// DefaultOptions returns white background and the default pixel limit.
func DefaultOptions() Options {
	return Options{Background: color.NRGBA{255, 255, 255, 255}, MaxPixels: DefaultMaxPixels}
}

// Info describes an image file.
type Info struct {
	Format Format
	// Width and Height are the displayed size, after EXIF orientation.
	Width, Height int
	// Orientation is the EXIF orientation that was (or will be) applied.
	Orientation Orientation
	// ColorModel names the stored pixel format, e.g. "YCbCr", "CMYK",
	// "RGBA 16-bit", "paletted", "gray".
	ColorModel string
	// Translucent is set (by Decode, Check and DecodeMask) when some pixel
	// is not fully opaque: the image has an alpha channel in use.
	Translucent bool
}

// ReadFile reads an image file into memory, refusing files above maxBytes
// (DefaultMaxFileBytes when maxBytes <= 0). Read failures are *DecodeError
// of kind KindIO, an empty file KindEmpty, an oversized one KindTooLarge.
func ReadFile(path string, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	f, err := fsutil.OpenRegular(path) // a named pipe or device is refused, not read
	if err != nil {
		return nil, &DecodeError{Kind: KindIO, Msg: "cannot read the file", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &DecodeError{Kind: KindIO, Msg: "cannot read the file", Err: err}
	}
	if st.Size() > maxBytes {
		return nil, &DecodeError{Kind: KindTooLarge, Msg: fmt.Sprintf("file is %d MiB, above the %d MiB limit for one image; downscale it", st.Size()>>20, maxBytes>>20)}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, &DecodeError{Kind: KindIO, Msg: "cannot read the file", Err: err}
	}
	if int64(len(data)) > maxBytes {
		return nil, &DecodeError{Kind: KindTooLarge, Msg: fmt.Sprintf("file is above the %d MiB limit for one image; downscale it", maxBytes>>20)}
	}
	if len(data) == 0 {
		return nil, &DecodeError{Kind: KindEmpty, Msg: "empty file (0 bytes); remove it or replace it with the real image"}
	}
	return data, nil
}

// DecodeConfig reads the format, size and orientation of an encoded image
// without decoding its pixels. A file that passes DecodeConfig may still fail
// Decode (e.g. a truncated JPEG).
func DecodeConfig(data []byte) (Info, error) {
	format, err := Sniff(data[:min(len(data), sniffLen)])
	if err != nil {
		return Info{}, err
	}
	var cfg image.Config
	err = safely(func() error {
		var err error
		cfg, err = decodeConfigAs(format, data)
		return err
	})
	if err != nil {
		return Info{Format: format}, classify(format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Info{Format: format}, &DecodeError{Kind: KindCorrupt, Msg: fmt.Sprintf("corrupt %s: header says %d×%d pixels", formatName(format), cfg.Width, cfg.Height)}
	}
	info := Info{Format: format, Width: cfg.Width, Height: cfg.Height, ColorModel: modelName(cfg.ColorModel)}
	info.Orientation = ReadOrientation(format, data)
	if info.Orientation.SwapsAxes() {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// Decode decodes an encoded image to opaque 8-bit RGB (see ToRGB) with its
// EXIF orientation applied. Errors are *DecodeError.
func Decode(data []byte, opts Options) (*image.NRGBA, Info, error) {
	img, info, err := decodeRaw(data, opts)
	if err != nil {
		return nil, info, err
	}
	rgb := Orient(ToRGB(img, opts.Background), info.Orientation)
	info.Width, info.Height = rgb.Rect.Dx(), rgb.Rect.Dy()
	return rgb, info, nil
}

// Check decodes an image fully, to prove it is readable, without converting
// or orienting the pixels (cheaper than Decode in time and memory). It
// returns the same Info and errors as Decode.
func Check(data []byte, opts Options) (Info, error) {
	img, info, err := decodeRaw(data, opts)
	if err != nil {
		return info, err
	}
	b := img.Bounds()
	info.Width, info.Height = b.Dx(), b.Dy()
	if info.Orientation.SwapsAxes() {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// decodeRaw sniffs, checks the size limit and decodes with the format's
// decoder, returning the decoder's image as is.
func decodeRaw(data []byte, opts Options) (image.Image, Info, error) {
	info, err := DecodeConfig(data)
	if err != nil {
		return nil, info, err
	}
	maxPixels := opts.MaxPixels
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if int64(info.Width)*int64(info.Height) > int64(maxPixels) {
		return nil, info, &DecodeError{Kind: KindTooLarge, Msg: fmt.Sprintf("%d×%d pixels is above the limit of %d megapixels; downscale it", info.Width, info.Height, maxPixels/1_000_000)}
	}
	var img image.Image
	err = safely(func() error {
		var err error
		img, err = decodeAs(info.Format, data)
		return err
	})
	if err != nil {
		if endsEarly(info.Format, data) {
			return nil, info, &DecodeError{Kind: KindTruncated, Msg: fmt.Sprintf("truncated %s (the file ends early; re-export or re-download it)", formatName(info.Format)), Err: err}
		}
		return nil, info, classify(info.Format, err)
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, info, &DecodeError{Kind: KindCorrupt, Msg: fmt.Sprintf("corrupt %s: no pixels", formatName(info.Format))}
	}
	info.ColorModel = imageModelName(img)
	if o, ok := img.(interface{ Opaque() bool }); ok {
		info.Translucent = !o.Opaque()
	}
	return img, info, nil
}

// DecodeFile reads and decodes an image file; see ReadFile and Decode.
func DecodeFile(path string, opts Options) (*image.NRGBA, Info, error) {
	data, err := ReadFile(path, 0)
	if err != nil {
		return nil, Info{}, err
	}
	return Decode(data, opts)
}

// Orient applies an EXIF orientation to an image.
func Orient(img *image.NRGBA, o Orientation) *image.NRGBA {
	switch o {
	case OrientFlipH:
		return imaging.FlipH(img)
	case OrientRotate180:
		return imaging.Rotate180(img)
	case OrientFlipV:
		return imaging.FlipV(img)
	case OrientTranspose:
		return imaging.Transpose(img)
	case OrientRotate90CW:
		return imaging.Rotate270(img) // imaging rotates counter-clockwise
	case OrientTransverse:
		return imaging.Transverse(img)
	case OrientRotate270:
		return imaging.Rotate90(img)
	}
	return img
}

// codec is the standard-library-style decoder pair of an image format.
type codec struct {
	decode func(io.Reader) (image.Image, error) // gif: the first frame
	config func(io.Reader) (image.Config, error)
}

// codecs are the decoders of the supported formats.
var codecs = map[Format]codec{
	JPEG: {jpeg.Decode, jpeg.DecodeConfig},
	PNG:  {png.Decode, png.DecodeConfig},
	GIF:  {gif.Decode, gif.DecodeConfig},
	WebP: {webp.Decode, webp.DecodeConfig},
	BMP:  {bmp.Decode, bmp.DecodeConfig},
	TIFF: {tiff.Decode, tiff.DecodeConfig},
}

// decodeConfigAs reads the size and colour model of data in format f.
func decodeConfigAs(f Format, data []byte) (image.Config, error) {
	c, ok := codecs[f]
	if !ok {
		return image.Config{}, fmt.Errorf("no decoder for %q", f)
	}
	return c.config(bytes.NewReader(data))
}

// decodeAs decodes data in format f.
func decodeAs(f Format, data []byte) (image.Image, error) {
	c, ok := codecs[f]
	if !ok {
		return nil, fmt.Errorf("no decoder for %q", f)
	}
	return c.decode(bytes.NewReader(data))
}

// safely runs a decoder, turning a panic inside it into an error.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder failed: %v", r)
		}
	}()
	return fn()
}

// classify turns a decoder error into a *DecodeError with a user message.
func classify(f Format, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return de
	}
	name := formatName(f)
	var jpegUnsupported jpeg.UnsupportedError
	var pngUnsupported png.UnsupportedError
	var tiffUnsupported tiff.UnsupportedError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &DecodeError{Kind: KindTruncated, Msg: fmt.Sprintf("truncated %s (the file ends early; re-export or re-download it)", name), Err: err}
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported), errors.As(err, &tiffUnsupported):
		return &DecodeError{Kind: KindUnsupported, Msg: fmt.Sprintf("unsupported %s variant; re-save it as a baseline JPEG or PNG", name), Err: err}
	}
	return &DecodeError{Kind: KindCorrupt, Msg: fmt.Sprintf("unreadable %s (corrupt data; re-export it)", name), Err: err}
}

// endsEarly reports whether data lacks the end marker its format requires,
// which tells a truncated file from a corrupt one when decoding failed.
func endsEarly(f Format, data []byte) bool {
	tail := data[max(0, len(data)-64):]
	switch f {
	case JPEG:
		return !bytes.Contains(tail, []byte{0xFF, 0xD9}) // EOI
	case PNG:
		return !bytes.Contains(tail, []byte("IEND"))
	case GIF:
		return !bytes.Contains(tail, []byte{0x3B}) // trailer
	case WebP:
		return len(data) >= 8 && int64(binary.LittleEndian.Uint32(data[4:]))+8 > int64(len(data))
	case BMP:
		return len(data) >= 6 && int64(binary.LittleEndian.Uint32(data[2:])) > int64(len(data))
	}
	return false
}

func formatName(f Format) string {
	switch f {
	case JPEG, PNG, BMP, TIFF, GIF:
		return string(bytes.ToUpper([]byte(f)))
	case WebP:
		return "WebP"
	}
	return "image"
}

// modelName names a colour model from a DecodeConfig.
func modelName(m color.Model) string {
	switch m {
	case color.YCbCrModel:
		return "YCbCr"
	case color.CMYKModel:
		return "CMYK"
	case color.GrayModel:
		return "gray"
	case color.Gray16Model:
		return "gray 16-bit"
	case color.RGBAModel, color.NRGBAModel:
		return "RGBA"
	case color.RGBA64Model, color.NRGBA64Model:
		return "RGBA 16-bit"
	case color.NYCbCrAModel:
		return "YCbCr+alpha"
	}
	if _, ok := m.(color.Palette); ok {
		return "paletted"
	}
	return "other"
}

// imageModelName names the pixel type of a decoded image.
func imageModelName(img image.Image) string {
	switch img.(type) {
	case *image.Paletted:
		return "paletted"
	case *image.YCbCr:
		return "YCbCr"
	case *image.NYCbCrA:
		return "YCbCr+alpha"
	}
	return modelName(img.ColorModel())
}
