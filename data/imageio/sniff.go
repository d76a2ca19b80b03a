// Package imageio decodes the training images Flora accepts (JPEG, PNG,
// WebP, BMP, TIFF, GIF) into 8-bit RGB, robustly: the format is detected by
// content, EXIF orientation is applied, transparency is composited on a
// background colour, and palette, grayscale, 16-bit and CMYK/YCCK images are
// converted. It also holds the pixel operations of preprocessing (crop,
// Lanczos resize, flip, conversion to float32 CHW).
package imageio

import (
	"bytes"
	"unicode/utf8"
)

// Format is an image file format detected from a file's first bytes.
type Format string

// The formats Flora decodes.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
	GIF  Format = "gif"
)

// sniffLen is how many leading bytes Sniff looks at.
const sniffLen = 32

// Sniff detects the image format from the first bytes of a file (at least
// the first 32 bytes should be passed when the file has them). It returns
// an error of kind KindEmpty, KindNotImage or KindUnsupported when the content
// is not a decodable image.
func Sniff(head []byte) (Format, error) {
	if len(head) == 0 {
		return "", &DecodeError{Kind: KindEmpty, Msg: "empty file (0 bytes); remove it or replace it with the real image"}
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, nil
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return TIFF, nil
	case len(head) >= 14 && head[0] == 'B' && head[1] == 'M':
		return BMP, nil
	}
	if len(head) >= 12 && string(head[4:8]) == "ftyp" {
		brand := string(head[8:12])
		switch brand {
		case "heic", "heix", "hevc", "heim", "heis", "mif1", "msf1":
			return "", &DecodeError{Kind: KindUnsupported, Msg: "HEIC/HEIF images are not supported; convert it to JPEG or PNG"}
		case "avif", "avis":
			return "", &DecodeError{Kind: KindUnsupported, Msg: "AVIF images are not supported; convert it to JPEG or PNG"}
		}
		return "", &DecodeError{Kind: KindNotImage, Msg: "not an image (an ISO media/video container); convert it to JPEG or PNG"}
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0x0A}) || bytes.HasPrefix(head, []byte("\x00\x00\x00\x0cJXL ")) {
		return "", &DecodeError{Kind: KindUnsupported, Msg: "JPEG XL images are not supported; convert it to JPEG or PNG"}
	}
	if looksLikeText(head) {
		return "", &DecodeError{Kind: KindNotImage, Msg: "not an image (the file contains text); replace it with the real image"}
	}
	return "", &DecodeError{Kind: KindNotImage, Msg: "not an image (unknown content; supported: JPEG, PNG, WebP, BMP, TIFF, GIF)"}
}

// looksLikeText reports whether head is printable UTF-8 text (a truncated
// multi-byte rune at the end is tolerated).
func looksLikeText(head []byte) bool {
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n <= 1 {
			// Tolerate only a multi-byte rune cut off by the end of head.
			return i > 0 && !utf8.FullRune(head[i:])
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
		i += n
	}
	return true
}

// String returns the format name in lower case ("jpeg", "png", ...).
func (f Format) String() string { return string(f) }
