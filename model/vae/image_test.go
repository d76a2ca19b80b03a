package vae

import (
	"image"
	"image/color"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestPixelToByte compares with values computed by numpy/torch in float32:
// diffusers' ((x/2 + 0.5).clamp(0, 1)·255).round() and BFL's
// (127.5·(x.clamp(−1, 1) + 1)).byte().
func TestPixelToByte(t *testing.T) {
	tests := []struct {
		x               float32
		round, truncate byte
	}{
		{-1.5, 0, 0}, {-1, 0, 0}, {-0.99607843, 0, 0}, {-0.5, 64, 63}, {0, 128, 127},
		{0.0039215684, 128, 127}, {0.25, 159, 159}, {0.5, 191, 191}, {0.99, 254, 253},
		{1, 255, 255}, {1.2, 255, 255}, {0.003921569, 128, 128}, {-0.0039215684, 127, 127}, {0.7, 217, 216},
	}
	for _, tc := range tests {
		if got := PixelToByte(tc.x, PixelRound); got != tc.round {
			t.Errorf("PixelToByte(%v, round) = %d, want %d", tc.x, got, tc.round)
		}
		if got := PixelToByte(tc.x, PixelTruncate); got != tc.truncate {
			t.Errorf("PixelToByte(%v, truncate) = %d, want %d", tc.x, got, tc.truncate)
		}
	}
}

// TestPixelsFromImages checks the layout and numpy's 2·(v/255) − 1 values,
// for the fast paths and the generic one, and that 8-bit values survive a
// round trip.
func TestPixelsFromImages(t *testing.T) {
	w, h := 3, 2
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgba := image.NewRGBA(image.Rect(10, 10, 10+w, 10+h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	vals := []byte{0, 1, 127, 128, 254, 255}
	for p := 0; p < w*h; p++ {
		x, y := p%w, p/w
		c := color.NRGBA{R: vals[p], G: vals[(p+1)%6], B: vals[(p+2)%6], A: 0xff}
		nrgba.SetNRGBA(x, y, c)
		rgba.Set(10+x, 10+y, c)
		gray.SetGray(x, y, color.Gray{Y: vals[p]})
	}
	want := map[byte]float32{0: -1, 1: -0.99215686, 127: -0.0039215684, 128: 0.003921628, 254: 0.99215686, 255: 1}
	px, err := PixelsFromImages([]image.Image{nrgba, rgba, gray})
	if err != nil {
		t.Fatal(err)
	}
	if d := px.Shape().Dimensions; d[0] != 3 || d[1] != 3 || d[2] != h || d[3] != w {
		t.Fatalf("pixels shape %v", d)
	}
	flat := tensors.MustCopyFlatData[float32](px)
	for b := 0; b < 3; b++ {
		for c := 0; c < 3; c++ {
			for p := 0; p < w*h; p++ {
				v := vals[(p+c)%6]
				if b == 2 {
					v = vals[p]
				}
				if got := flat[(b*3+c)*w*h+p]; got != want[v] {
					t.Fatalf("image %d channel %d pixel %d = %v, want %v (byte %d)", b, c, p, got, want[v], v)
				}
			}
		}
	}
	imgs, err := ImagesFromPixels(px, PixelRound)
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < w*h; p++ {
		got := imgs[0].NRGBAAt(p%w, p/w)
		if got != nrgba.NRGBAAt(p%w, p/w) {
			t.Errorf("round trip pixel %d = %v, want %v", p, got, nrgba.NRGBAAt(p%w, p/w))
		}
	}
	if _, err := PixelsFromImages([]image.Image{nrgba, image.NewNRGBA(image.Rect(0, 0, 2, 2))}); err == nil {
		t.Error("accepted images of different sizes")
	}
	if _, err := PixelsFromRGB(make([]byte, 5), 1, 1, 2); err == nil {
		t.Error("accepted a short RGB buffer")
	}
	if _, err := PixelsFromRGB(nil, 1<<40, 1<<40, 1<<40); err == nil {
		t.Error("accepted sizes whose product overflows")
	}
}
