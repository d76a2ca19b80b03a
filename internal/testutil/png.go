package testutil

import (
	"image"
	"image/png"
	"os"
	"testing"
)

// DecodePNGFile decodes a PNG file; a missing or undecodable file fails the
// test.
func DecodePNGFile(tb testing.TB, path string) image.Image {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return img
}
