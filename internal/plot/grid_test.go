package plot

import (
	"image"
	"image/color"
	"testing"
)

// TestImageGrid: cells are upscaled to at least MinGridCell, blank cells
// stay white, and Size matches the rendered image.
func TestImageGrid(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range red.Pix {
		red.Pix[i] = []uint8{255, 0, 0, 255}[i%4]
	}
	g := &ImageGrid{Rows: [][]image.Image{{red, nil}, {nil, red}}, RowLabels: []string{"rank 4", "rank 16"},
		ColLabels: []string{"a very long prompt that cannot fit above one cell", "b"}}
	img, err := g.Render()
	if err != nil {
		t.Fatal(err)
	}
	w, h, err := g.Size()
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Errorf("rendered %v, Size %dx%d", img.Bounds(), w, h)
	}
	if want := GridHeader + 2*(128+GridPad) + GridPad; h != want {
		t.Errorf("height %d, want %d", h, want)
	}
	// The first cell's centre is red, the second's white.
	labelW := w - 2*(128+GridPad) - GridPad
	y := GridHeader + GridPad + 64
	if c := img.RGBAAt(labelW+GridPad+64, y); c != (color.RGBA{255, 0, 0, 255}) {
		t.Errorf("cell (0,0) centre %v", c)
	}
	if c := img.RGBAAt(labelW+2*GridPad+128+64, y); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("blank cell centre %v", c)
	}
	if _, err := (&ImageGrid{}).Render(); err == nil {
		t.Error("empty grid rendered")
	}
}
