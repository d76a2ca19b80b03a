package imageio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// Colours of the Pillow fixtures in testdata (tools/reference/imageio_fixtures.py).
var (
	fixtureLeft  = color.NRGBA{200, 30, 60, 255}
	fixtureRight = color.NRGBA{20, 160, 220, 255}
)

var white = color.NRGBA{255, 255, 255, 255}

// encodePNG encodes img as PNG.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodeJPEG encodes img as JPEG at high quality.
func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tiffOrientationBlock builds a minimal TIFF structure whose IFD0 holds one
// entry: the orientation tag with value o, in the given byte order.
func tiffOrientationBlock(o Orientation, bigEndian bool) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	head := []byte("II*\x00")
	if bigEndian {
		order, head = binary.BigEndian, []byte("MM\x00*")
	}
	b := make([]byte, 8+2+12+4)
	copy(b, head)
	order.PutUint32(b[4:], 8)
	order.PutUint16(b[8:], 1)          // one entry
	order.PutUint16(b[10:], 0x0112)    // tag
	order.PutUint16(b[12:], 3)         // SHORT
	order.PutUint32(b[14:], 1)         // count
	order.PutUint16(b[18:], uint16(o)) // value
	order.PutUint32(b[22:], 0)         // no next IFD
	return b
}

// withJPEGExif inserts an APP1 Exif segment holding orientation o right after
// the SOI marker of a JPEG.
func withJPEGExif(jpg []byte, o Orientation, bigEndian bool) []byte {
	payload := append([]byte("Exif\x00\x00"), tiffOrientationBlock(o, bigEndian)...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// withPNGChunk inserts a chunk right after the IHDR chunk of a PNG.
func withPNGChunk(p []byte, kind string, data []byte) []byte {
	ihdrEnd := 8 + 8 + 13 + 4
	chunk := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(chunk, uint32(len(data)))
	copy(chunk[4:], kind)
	chunk = append(chunk, data...)
	crc := crc32.ChecksumIEEE(chunk[4:])
	chunk = binary.BigEndian.AppendUint32(chunk, crc)
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}

// withPNGExif adds an eXIf chunk with orientation o.
func withPNGExif(p []byte, o Orientation) []byte {
	return withPNGChunk(p, "eXIf", tiffOrientationBlock(o, true))
}

// pattern returns a w×h image whose every pixel has a distinct colour
// derived from its coordinates.
func pattern(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 + 20*x), uint8(10 + 20*y), 99, 255})
		}
	}
	return img
}

// near reports whether two colours differ by at most tol in every channel.
func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return abs(int(x)-int(y)) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
