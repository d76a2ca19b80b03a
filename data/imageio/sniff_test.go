package imageio

import (
	"errors"
	"strings"
	"testing"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name  string
		head  []byte
		want  Format
		kind  Kind
		inMsg string
	}{
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10}, JPEG, "", ""},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), PNG, "", ""},
		{"webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 "), WebP, "", ""},
		{"gif87", []byte("GIF87a\x01\x00"), GIF, "", ""},
		{"gif89", []byte("GIF89a\x01\x00"), GIF, "", ""},
		{"tiff-le", []byte("II*\x00\x08\x00\x00\x00"), TIFF, "", ""},
		{"tiff-be", []byte("MM\x00*\x00\x00\x00\x08"), TIFF, "", ""},
		{"bmp", []byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), BMP, "", ""},
		{"empty", nil, "", KindEmpty, "empty file"},
		{"text", []byte("a photo of a cat, sitting\n"), "", KindNotImage, "contains text"},
		{"utf8 text cut mid-rune", []byte("caf\xc3"), "", KindNotImage, "contains text"},
		{"html", []byte("<!DOCTYPE html><html>"), "", KindNotImage, "contains text"},
		{"binary", []byte{0, 1, 2, 3, 4, 5, 6, 7}, "", KindNotImage, "unknown content"},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00"), "", KindUnsupported, "HEIC"},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00"), "", KindUnsupported, "AVIF"},
		{"mp4", []byte("\x00\x00\x00\x18ftypisom\x00\x00"), "", KindNotImage, "video"},
		{"jxl", []byte{0xFF, 0x0A, 0x01}, "", KindUnsupported, "JPEG XL"},
		{"short BM is text", []byte("BM"), "", KindNotImage, "text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sniff(tc.head)
			if tc.kind == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Sniff = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Kind != tc.kind {
				t.Fatalf("Sniff error = %v; want kind %q", err, tc.kind)
			}
			if !strings.Contains(de.Error(), tc.inMsg) {
				t.Errorf("message %q lacks %q", de.Error(), tc.inMsg)
			}
		})
	}
}
