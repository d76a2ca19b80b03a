package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

// TestDecodeFormats decodes every supported format and checks the colours in
// the middle of both halves (away from the seam, where lossy codecs blur).
func TestDecodeFormats(t *testing.T) {
	src := datatest.Halves(fixtureLeft, fixtureRight)
	enc := func(f func(*bytes.Buffer) error) []byte {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	multiFrameGIF := func() []byte {
		pal := color.Palette{fixtureLeft, fixtureRight, color.NRGBA{0, 255, 0, 255}}
		f1 := image.NewPaletted(image.Rect(0, 0, 32, 16), pal)
		f2 := image.NewPaletted(image.Rect(0, 0, 32, 16), pal)
		for y := 0; y < 16; y++ {
			for x := 0; x < 32; x++ {
				f1.SetColorIndex(x, y, uint8(x/16))
				f2.SetColorIndex(x, y, 2) // all green: must not be returned
			}
		}
		return enc(func(b *bytes.Buffer) error {
			return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{f1, f2}, Delay: []int{10, 10}})
		})
	}
	readFixture := func(name string) []byte { return datatest.Pillow(t, name) }
	// 16-bit PNG: 0xC8C8 → 200 and so on, so the 8-bit result is exact.
	png16 := datatest.Split16(32, 16, fixtureLeft, fixtureRight)
	// RGBA PNG: right half alpha 64 over white: c·64/255 + 255·191/255.
	rgbaRight := color.NRGBA{fixtureRight.R, fixtureRight.G, fixtureRight.B, 64}
	blendWhite := func(c color.NRGBA) color.NRGBA {
		f := func(v uint8) uint8 { return uint8((int(v)*int(c.A) + 255*(255-int(c.A)) + 127) / 255) }
		return color.NRGBA{f(c.R), f(c.G), f(c.B), 255}
	}
	tests := []struct {
		name        string
		data        []byte
		format      Format
		model       string
		left, right color.NRGBA
		tol         int
	}{
		{"png", encodePNG(t, src), PNG, "RGBA", fixtureLeft, fixtureRight, 0},
		{"png 16-bit", encodePNG(t, png16), PNG, "RGBA 16-bit", fixtureLeft, fixtureRight, 0},
		{"png rgba", encodePNG(t, datatest.Halves(fixtureLeft, rgbaRight)), PNG, "RGBA", fixtureLeft, blendWhite(rgbaRight), 0},
		{"jpeg", encodeJPEG(t, src), JPEG, "YCbCr", fixtureLeft, fixtureRight, 6},
		{"bmp", enc(func(b *bytes.Buffer) error { return bmp.Encode(b, src) }), BMP, "RGBA", fixtureLeft, fixtureRight, 0},
		{"tiff", enc(func(b *bytes.Buffer) error { return tiff.Encode(b, src, nil) }), TIFF, "RGBA", fixtureLeft, fixtureRight, 0},
		{"gif first frame", multiFrameGIF(), GIF, "paletted", fixtureLeft, fixtureRight, 0},
		{"cmyk jpeg (Pillow)", readFixture("cmyk.jpg"), JPEG, "CMYK", fixtureLeft, fixtureRight, 3},
		// VP8 keeps 4:2:0 chroma with coarse quantisation: allow 16 levels.
		{"webp lossy (Pillow)", readFixture("lossy.webp"), WebP, "YCbCr", fixtureLeft, fixtureRight, 16},
		{"webp lossless alpha (Pillow)", readFixture("alpha.webp"), WebP, "RGBA", fixtureLeft, blendWhite(rgbaRight), 1},
		{"webp lossy alpha (Pillow)", readFixture("lossy_alpha.webp"), WebP, "YCbCr+alpha", fixtureLeft, blendWhite(rgbaRight), 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, info, err := Decode(tc.data, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if checked, err := Check(tc.data, DefaultOptions()); err != nil || checked != info {
				t.Errorf("Check = %+v, %v; Decode info %+v", checked, err, info)
			}
			if info.Format != tc.format || info.ColorModel != tc.model || info.Width != 32 || info.Height != 16 {
				t.Errorf("info = %+v, want %s %s 32x16", info, tc.format, tc.model)
			}
			for _, p := range []struct {
				x    int
				want color.NRGBA
			}{{5, tc.left}, {26, tc.right}} {
				if got := img.NRGBAAt(p.x, 8); !near(got, p.want, tc.tol) {
					t.Errorf("pixel (%d,8) = %v, want %v ±%d", p.x, got, p.want, tc.tol)
				}
			}
		})
	}
}

// An EXIF-rotated JPEG (orientation 6, as phones write) decodes upright.
func TestDecodeRotatedJPEG(t *testing.T) {
	// Stored 32×16: left half red-ish, right half blue-ish. Rotating 90°
	// clockwise for display puts the stored left half on top.
	data := withJPEGExif(encodeJPEG(t, datatest.Halves(fixtureLeft, fixtureRight)), OrientRotate90CW, false)
	img, info, err := Decode(data, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 16 || info.Height != 32 || info.Orientation != OrientRotate90CW {
		t.Fatalf("info = %+v, want 16x32 orientation 6", info)
	}
	if got := img.NRGBAAt(8, 5); !near(got, fixtureLeft, 6) {
		t.Errorf("top = %v, want %v", got, fixtureLeft)
	}
	if got := img.NRGBAAt(8, 26); !near(got, fixtureRight, 6) {
		t.Errorf("bottom = %v, want %v", got, fixtureRight)
	}
}

func TestDecodeErrors(t *testing.T) {
	jpg := encodeJPEG(t, pattern(64, 48))
	pngData := encodePNG(t, pattern(64, 48))
	// A PNG header claiming 60000×60000 pixels (3.6 gigapixels).
	huge := append([]byte{}, pngData...)
	binary.BigEndian.PutUint32(huge[16:], 60000)
	binary.BigEndian.PutUint32(huge[20:], 60000)
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	zeroSize := append([]byte{}, pngData...)
	binary.BigEndian.PutUint32(zeroSize[16:], 0)
	binary.BigEndian.PutUint32(zeroSize[29:], crc32.ChecksumIEEE(zeroSize[12:29]))
	corrupt := append([]byte{}, jpg...)
	for i := len(corrupt) / 2; i < len(corrupt)-2; i++ {
		corrupt[i] = 0x55
	}
	tests := []struct {
		name  string
		data  []byte
		kind  Kind
		inMsg string
	}{
		{"empty", []byte{}, KindEmpty, "empty file"},
		{"text named .jpg", []byte("this is not a picture\n"), KindNotImage, "not an image"},
		{"truncated jpeg", jpg[:len(jpg)/2], KindTruncated, "truncated JPEG"},
		{"jpeg header only", jpg[:20], KindTruncated, "truncated JPEG"},
		{"truncated png", pngData[:len(pngData)-30], KindTruncated, "truncated PNG"},
		{"huge png header", huge, KindTooLarge, "megapixels"},
		{"zero-size png header", zeroSize, KindCorrupt, "PNG"},
		{"jpeg magic then garbage", append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x42}, 100)...), KindCorrupt, "JPEG"},
		{"corrupt jpeg scan", corrupt, KindCorrupt, "JPEG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.data, DefaultOptions())
			if _, cerr := Check(tc.data, DefaultOptions()); fmt.Sprint(cerr) != fmt.Sprint(err) {
				t.Errorf("Check error %v differs from Decode error %v", cerr, err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error = %v, want *DecodeError", err)
			}
			if de.Kind != tc.kind || !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("error = %q (kind %q), want kind %q containing %q", err, de.Kind, tc.kind, tc.inMsg)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.png")
	big := filepath.Join(dir, "big.png")
	ok := filepath.Join(dir, "ok.png")
	for p, n := range map[string]int{empty: 0, big: 2000, ok: 10} {
		testutil.WriteFile(t, p, make([]byte, n))
	}
	tests := []struct {
		path string
		kind Kind
	}{
		{empty, KindEmpty},
		{big, KindTooLarge},
		{filepath.Join(dir, "missing.png"), KindIO},
		{ok, ""},
	}
	for _, tc := range tests {
		_, err := ReadFile(tc.path, 1000)
		var de *DecodeError
		if tc.kind == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
		} else if !errors.As(err, &de) || de.Kind != tc.kind {
			t.Errorf("%s: error %v, want kind %q", tc.path, err, tc.kind)
		}
	}
}

// FuzzDecode checks that no input makes the decoder panic or return an error
// that is not a *DecodeError.
func FuzzDecode(f *testing.F) {
	f.Add(encodePNG(f, pattern(5, 3)))
	f.Add(withPNGExif(encodePNG(f, pattern(5, 3)), OrientTransverse))
	f.Add(withJPEGExif(encodeJPEG(f, pattern(8, 8)), OrientRotate90CW, true))
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	f.Add([]byte("RIFF\x10\x00\x00\x00WEBPVP8X"))
	f.Add(tiffOrientationBlock(OrientFlipH, false))
	f.Add([]byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := DefaultOptions()
		opts.MaxPixels = 1 << 20
		img, _, err := Decode(data, opts)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		if img.Rect.Min != (image.Point{}) || img.Rect.Empty() {
			t.Fatalf("bad bounds %v", img.Rect)
		}
	})
}
