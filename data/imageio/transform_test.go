package imageio

import (
	"image"
	"image/color"
	"testing"
)

func TestCropResize(t *testing.T) {
	src := pattern(8, 6)
	tests := []struct {
		name          string
		rect          image.Rectangle
		width, height int
		check         func(t *testing.T, out *image.NRGBA)
	}{
		{"exact size copies pixels", image.Rect(2, 1, 6, 5), 4, 4, func(t *testing.T, out *image.NRGBA) {
			for y := 0; y < 4; y++ {
				for x := 0; x < 4; x++ {
					if out.NRGBAAt(x, y) != src.NRGBAAt(x+2, y+1) {
						t.Fatalf("(%d,%d) = %v, want %v", x, y, out.NRGBAAt(x, y), src.NRGBAAt(x+2, y+1))
					}
				}
			}
		}},
		{"rect clipped to image", image.Rect(-3, -3, 4, 4), 4, 4, func(t *testing.T, out *image.NRGBA) {
			if out.NRGBAAt(3, 3) != src.NRGBAAt(3, 3) {
				t.Fatalf("got %v", out.NRGBAAt(3, 3))
			}
		}},
		{"downscale by 2 of a flat image keeps the colour", image.Rect(0, 0, 8, 6), 4, 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := src
			if tc.check == nil {
				in = image.NewNRGBA(image.Rect(0, 0, 8, 6))
				for i := 0; i < len(in.Pix); i += 4 {
					copy(in.Pix[i:], []uint8{40, 80, 120, 255})
				}
			}
			out, err := CropResize(in, tc.rect, tc.width, tc.height)
			if err != nil {
				t.Fatal(err)
			}
			if out.Rect != image.Rect(0, 0, tc.width, tc.height) {
				t.Fatalf("bounds %v", out.Rect)
			}
			if tc.check != nil {
				tc.check(t, out)
				return
			}
			for y := 0; y < tc.height; y++ {
				for x := 0; x < tc.width; x++ {
					if c := out.NRGBAAt(x, y); c != (color.NRGBA{40, 80, 120, 255}) {
						t.Fatalf("(%d,%d) = %v", x, y, c)
					}
				}
			}
		})
	}
	if _, err := CropResize(src, image.Rect(20, 20, 30, 30), 4, 4); err == nil {
		t.Error("crop outside the image: want error")
	}
}

func TestToCHW(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	vals := [][3]uint8{{0, 255, 51}, {255, 0, 102}, {128, 127, 0}, {1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
	for i, v := range vals {
		img.SetNRGBA(i%3, i/3, color.NRGBA{v[0], v[1], v[2], 255})
	}
	f := func(v uint8) float32 { return float32(v)/127.5 - 1 }
	for _, flip := range []bool{false, true} {
		out := ToCHW(img, flip, nil)
		if len(out) != 3*2*3 {
			t.Fatalf("len %d", len(out))
		}
		for y := 0; y < 2; y++ {
			for x := 0; x < 3; x++ {
				sx := x
				if flip {
					sx = 2 - x
				}
				v := vals[y*3+sx]
				for c := 0; c < 3; c++ {
					if got, want := out[c*6+y*3+x], f(v[c]); got != want {
						t.Fatalf("flip=%v c%d (%d,%d) = %v, want %v", flip, c, x, y, got, want)
					}
				}
			}
		}
	}
	if out := ToCHW(img, false, nil); out[0] != -1 || out[6+0] != 1 {
		t.Errorf("range: 0 → %v, 255 → %v; want −1 and 1", out[0], out[6])
	}
	buf := make([]float32, 100)
	if out := ToCHW(img, false, buf); &out[0] != &buf[0] {
		t.Error("dst with room was not reused")
	}
}
