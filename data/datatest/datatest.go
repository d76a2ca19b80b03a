// Package datatest builds image files and dataset folders for the tests of
// Flora's data packages and commands: encoded images with EXIF orientation,
// the small fixtures only Pillow can write (CMYK JPEG, WebP), and a folder
// holding one of every dataset problem.
package datatest

import (
	"bytes"
	"embed"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"testing"
)

//go:embed testdata/*.jpg testdata/*.webp
var pillowFiles embed.FS

// Colours of the Pillow fixtures (tools/reference/imageio_fixtures.py): every
// fixture is 32×16, left half Left, right half Right (alpha 64 on the right
// in the alpha fixtures).
var (
	Left  = color.NRGBA{200, 30, 60, 255}
	Right = color.NRGBA{20, 160, 220, 255}
)

// Pillow returns a fixture written by tools/reference/imageio_fixtures.py:
// cmyk.jpg, lossy.webp, alpha.webp or lossy_alpha.webp.
func Pillow(t testing.TB, name string) []byte {
	t.Helper()
	b, err := pillowFiles.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("datatest fixture %s: %v", name, err)
	}
	return b
}

// Halves returns a 32×16 image: left half l, right half r.
func Halves(l, r color.NRGBA) *image.NRGBA {
	return Split(32, 16, l, r)
}

// Split returns a w×h image: left half l, right half r.
func Split(w, h int, l, r color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := l
			if x >= w/2 {
				c = r
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// Split16 is Split as a 16-bit image: an opaque 8-bit value v becomes
// v·0x101, the 16-bit value that maps back to exactly v.
func Split16(w, h int, l, r color.NRGBA) *image.NRGBA64 {
	src := Split(w, h, l, r)
	img := image.NewNRGBA64(src.Bounds())
	draw.Draw(img, img.Bounds(), src, image.Point{}, draw.Src)
	return img
}

// Pattern returns a w×h image whose pixels all differ: (10+20x, 10+20y, 99).
func Pattern(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 + 20*x), uint8(10 + 20*y), 99, 255})
		}
	}
	return img
}

// PNG encodes img as PNG.
func PNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// JPEG encodes img as JPEG, quality 95.
func JPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TIFFOrientation builds a minimal TIFF structure whose IFD0 holds one
// entry: the orientation tag (0x0112, SHORT) with value o.
func TIFFOrientation(o int, bigEndian bool) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	head := []byte("II*\x00")
	if bigEndian {
		order, head = binary.BigEndian, []byte("MM\x00*")
	}
	b := make([]byte, 8+2+12+4)
	copy(b, head)
	order.PutUint32(b[4:], 8)          // IFD0 offset
	order.PutUint16(b[8:], 1)          // one entry
	order.PutUint16(b[10:], 0x0112)    // tag
	order.PutUint16(b[12:], 3)         // SHORT
	order.PutUint32(b[14:], 1)         // count
	order.PutUint16(b[18:], uint16(o)) // value
	order.PutUint32(b[22:], 0)         // no next IFD
	return b
}

// JPEGWithExif inserts an APP1 Exif segment with orientation o right after
// the SOI marker of a JPEG.
func JPEGWithExif(jpg []byte, o int, bigEndian bool) []byte {
	payload := append([]byte("Exif\x00\x00"), TIFFOrientation(o, bigEndian)...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// PNGWithChunk inserts a chunk (with its CRC) right after the IHDR chunk.
func PNGWithChunk(p []byte, kind string, data []byte) []byte {
	ihdrEnd := 8 + 8 + 13 + 4
	chunk := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(chunk, uint32(len(data)))
	copy(chunk[4:], kind)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}

// PNGWithExif adds an eXIf chunk with orientation o.
func PNGWithExif(p []byte, o int) []byte {
	return PNGWithChunk(p, "eXIf", TIFFOrientation(o, true))
}

// Near reports whether two colours differ by at most tol in every channel.
func Near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { v := int(x) - int(y); return v <= tol && -v <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}
