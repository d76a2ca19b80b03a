package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"

	"github.com/flora-ml/flora/internal/fsutil"
)

// ImageGrid is a labelled grid of images: one row per RowLabels entry, one
// column per ColLabels entry, each cell an image scaled up by an integer
// factor (nearest neighbour) and centred; a nil image leaves its cell
// blank.
type ImageGrid struct {
	Rows      [][]image.Image
	RowLabels []string
	ColLabels []string
	// Scale is the integer upscaling of the images (0: the smallest that
	// makes a cell at least MinGridCell pixels wide).
	Scale int
}

// Grid layout, in pixels.
const (
	// GridPad separates cells and surrounds the grid.
	GridPad = 4
	// GridHeader is the height of the column-label row (when there are
	// column labels).
	GridHeader = 20
	// MinGridCell is the least cell width an automatic Scale reaches.
	MinGridCell = 128
)

// layout is the grid's cell size, scale, label-column width and column
// count.
func (g *ImageGrid) layout(small font.Face) (cw, ch, scale, labelW, cols int) {
	for _, r := range g.Rows {
		cols = max(cols, len(r))
		for _, im := range r {
			if im != nil {
				cw, ch = max(cw, im.Bounds().Dx()), max(ch, im.Bounds().Dy())
			}
		}
	}
	cols = max(cols, len(g.ColLabels))
	cw, ch = max(cw, 1), max(ch, 1)
	scale = g.Scale
	if scale <= 0 {
		scale = max(1, (MinGridCell+cw-1)/cw)
	}
	for _, l := range g.RowLabels {
		labelW = max(labelW, textWidth(small, l)+2*GridPad)
	}
	return cw * scale, ch * scale, scale, labelW, cols
}

// Size is the rendered grid's width and height.
func (g *ImageGrid) Size() (int, int, error) {
	_, small, err := faces()
	if err != nil {
		return 0, 0, err
	}
	w, h, _, _ := g.size(small)
	return w, h, nil
}

func (g *ImageGrid) size(small font.Face) (w, h, header, labelW int) {
	cw, ch, _, labelW, cols := g.layout(small)
	if len(g.ColLabels) > 0 {
		header = GridHeader
	}
	return labelW + cols*(cw+GridPad) + GridPad, header + len(g.Rows)*(ch+GridPad) + GridPad, header, labelW
}

// Render draws the grid on white.
func (g *ImageGrid) Render() (*image.RGBA, error) {
	if len(g.Rows) == 0 {
		return nil, fmt.Errorf("image grid: no rows")
	}
	_, small, err := faces()
	if err != nil {
		return nil, err
	}
	cw, ch, scale, _, _ := g.layout(small)
	w, h, header, labelW := g.size(small)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	ink := color.RGBA{40, 40, 40, 255}
	for j, l := range g.ColLabels {
		x0 := labelW + GridPad + j*(cw+GridPad)
		text(img, small, fitText(small, l, cw), x0+cw/2, header-6, ink, true)
	}
	for i, row := range g.Rows {
		y0 := header + GridPad + i*(ch+GridPad)
		if i < len(g.RowLabels) {
			text(img, small, g.RowLabels[i], labelW-GridPad, y0+ch/2+4, ink, false)
		}
		for j, im := range row {
			if im == nil {
				continue
			}
			b := im.Bounds()
			x := labelW + GridPad + j*(cw+GridPad) + (cw-b.Dx()*scale)/2
			y := y0 + (ch-b.Dy()*scale)/2
			for py := 0; py < b.Dy()*scale; py++ {
				for px := 0; px < b.Dx()*scale; px++ {
					img.Set(x+px, y+py, im.At(b.Min.X+px/scale, b.Min.Y+py/scale))
				}
			}
		}
	}
	return img, nil
}

// WritePNG renders the grid and writes it to path atomically.
func (g *ImageGrid) WritePNG(path string) error {
	img, err := g.Render()
	if err != nil {
		return fmt.Errorf("drawing %s: %w", path, err)
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// fitText shortens s with "…" until it is at most width pixels wide.
func fitText(face font.Face, s string, width int) string {
	if textWidth(face, s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && textWidth(face, string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}
