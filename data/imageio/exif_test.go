package imageio

import (
	"encoding/binary"
	"fmt"
	"image"
	"testing"
)

func TestReadOrientation(t *testing.T) {
	jpg := encodeJPEG(t, pattern(4, 3))
	pngData := encodePNG(t, pattern(4, 3))
	webpWithExif := func(o Orientation) []byte {
		payload := append([]byte("Exif\x00\x00"), tiffOrientationBlock(o, false)...)
		b := []byte("RIFF\x00\x00\x00\x00WEBP")
		// A dummy odd-sized chunk first, to exercise padding.
		b = append(b, "ICCP\x03\x00\x00\x00abc\x00"...)
		b = append(b, "EXIF"...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	type orientCase struct {
		name   string
		format Format
		data   []byte
		want   Orientation
	}
	tests := []orientCase{
		{"jpeg without exif", JPEG, jpg, OrientNormal},
		{"png without exif", PNG, pngData, OrientNormal},
		{"gif has none", GIF, []byte("GIF89a"), OrientNormal},
		{"tiff file", TIFF, tiffOrientationBlock(OrientRotate180, true), OrientRotate180},
		{"webp exif", WebP, webpWithExif(OrientTranspose), OrientTranspose},
		{"png exif without Exif prefix", PNG, withPNGExif(pngData, OrientRotate270), OrientRotate270},
		{"png exif with Exif prefix", PNG, withPNGChunk(pngData, "eXIf", append([]byte("Exif\x00\x00"), tiffOrientationBlock(OrientFlipV, false)...)), OrientFlipV},
		{"out of range value", JPEG, withJPEGExif(jpg, 9, false), OrientNormal},
		{"zero value", JPEG, withJPEGExif(jpg, 0, true), OrientNormal},
	}
	for o := OrientNormal; o <= OrientRotate270; o++ {
		tests = append(tests,
			orientCase{fmt.Sprintf("jpeg little-endian %d", o), JPEG, withJPEGExif(jpg, o, false), o},
			orientCase{fmt.Sprintf("jpeg big-endian %d", o), JPEG, withJPEGExif(jpg, o, true), o},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReadOrientation(tc.format, tc.data); got != tc.want {
				t.Errorf("ReadOrientation = %d, want %d", got, tc.want)
			}
		})
	}
}

// Every prefix of files with EXIF must be read without panicking, and
// without inventing an orientation other than the real one or Normal.
func TestReadOrientationTruncated(t *testing.T) {
	jpg := withJPEGExif(encodeJPEG(t, pattern(4, 3)), OrientRotate90CW, false)
	pngData := withPNGExif(encodePNG(t, pattern(4, 3)), OrientRotate90CW)
	for _, tc := range []struct {
		format Format
		data   []byte
	}{{JPEG, jpg}, {PNG, pngData}, {TIFF, tiffOrientationBlock(OrientRotate90CW, false)}} {
		for n := 0; n <= len(tc.data); n++ {
			got := ReadOrientation(tc.format, tc.data[:n])
			if got != OrientNormal && got != OrientRotate90CW {
				t.Fatalf("%s prefix %d: orientation %d", tc.format, n, got)
			}
		}
	}
}

// displayedAt maps a displayed pixel (x, y) to the stored pixel it shows, per
// the EXIF specification (stored size sw×sh).
func displayedAt(o Orientation, x, y, sw, sh int) (int, int) {
	switch o {
	case OrientFlipH:
		return sw - 1 - x, y
	case OrientRotate180:
		return sw - 1 - x, sh - 1 - y
	case OrientFlipV:
		return x, sh - 1 - y
	case OrientTranspose:
		return y, x
	case OrientRotate90CW:
		return y, sh - 1 - x
	case OrientTransverse:
		return sw - 1 - y, sh - 1 - x
	case OrientRotate270:
		return sw - 1 - y, x
	}
	return x, y
}

// Decoding a lossless PNG with each eXIf orientation must give exactly the
// displayed image the EXIF specification describes.
func TestDecodeAppliesOrientationExactly(t *testing.T) {
	const sw, sh = 5, 3
	src := pattern(sw, sh)
	for o := OrientNormal; o <= OrientRotate270; o++ {
		data := withPNGExif(encodePNG(t, src), o)
		img, info, err := Decode(data, DefaultOptions())
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		wantW, wantH := sw, sh
		if o.SwapsAxes() {
			wantW, wantH = sh, sw
		}
		if info.Orientation != o || info.Width != wantW || info.Height != wantH || img.Rect != image.Rect(0, 0, wantW, wantH) {
			t.Fatalf("orientation %d: info %+v, bounds %v; want %dx%d", o, info, img.Rect, wantW, wantH)
		}
		for y := 0; y < wantH; y++ {
			for x := 0; x < wantW; x++ {
				sx, sy := displayedAt(o, x, y, sw, sh)
				if got, want := img.NRGBAAt(x, y), src.NRGBAAt(sx, sy); got != want {
					t.Fatalf("orientation %d: pixel (%d,%d) = %v, want stored (%d,%d) = %v", o, x, y, got, sx, sy, want)
				}
			}
		}
		if checked, err := Check(data, DefaultOptions()); err != nil || checked.Width != wantW || checked.Height != wantH {
			t.Errorf("orientation %d: Check = %+v, %v", o, checked, err)
		}
		cfg, err := DecodeConfig(data)
		if err != nil || cfg.Width != wantW || cfg.Height != wantH {
			t.Errorf("orientation %d: DecodeConfig = %+v, %v", o, cfg, err)
		}
	}
}
