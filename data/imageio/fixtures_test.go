package imageio

import (
	"image"
	"image/color"
	"testing"

	"github.com/flora-ml/flora/data/datatest"
)

// Colours of the Pillow fixtures (see datatest).
var (
	fixtureLeft  = datatest.Left
	fixtureRight = datatest.Right
)

var white = color.NRGBA{255, 255, 255, 255}

func encodePNG(t testing.TB, img image.Image) []byte  { return datatest.PNG(t, img) }
func encodeJPEG(t testing.TB, img image.Image) []byte { return datatest.JPEG(t, img) }
func pattern(w, h int) *image.NRGBA                   { return datatest.Pattern(w, h) }
func near(a, b color.NRGBA, tol int) bool             { return datatest.Near(a, b, tol) }

func tiffOrientationBlock(o Orientation, bigEndian bool) []byte {
	return datatest.TIFFOrientation(int(o), bigEndian)
}

func withJPEGExif(jpg []byte, o Orientation, bigEndian bool) []byte {
	return datatest.JPEGWithExif(jpg, int(o), bigEndian)
}

func withPNGChunk(p []byte, kind string, data []byte) []byte {
	return datatest.PNGWithChunk(p, kind, data)
}

func withPNGExif(p []byte, o Orientation) []byte { return datatest.PNGWithExif(p, int(o)) }
