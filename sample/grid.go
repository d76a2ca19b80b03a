package sample

import (
	"image"
	"image/color"
	"image/draw"
)

// Grid lays images out in rows (e.g. prompts) and columns (e.g. seeds) with
// pad pixels of background between them. Cells take the size of the largest
// image; smaller ones are centered.
func Grid(rows [][]image.Image, pad int, background color.Color) *image.RGBA {
	cw, ch, cols := 0, 0, 0
	for _, r := range rows {
		cols = max(cols, len(r))
		for _, im := range r {
			if im == nil {
				continue
			}
			cw = max(cw, im.Bounds().Dx())
			ch = max(ch, im.Bounds().Dy())
		}
	}
	w := cols*cw + (cols+1)*pad
	h := len(rows)*ch + (len(rows)+1)*pad
	out := image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	draw.Draw(out, out.Bounds(), image.NewUniform(background), image.Point{}, draw.Src)
	for i, r := range rows {
		for j, im := range r {
			if im == nil {
				continue
			}
			b := im.Bounds()
			x := pad + j*(cw+pad) + (cw-b.Dx())/2
			y := pad + i*(ch+pad) + (ch-b.Dy())/2
			draw.Draw(out, image.Rect(x, y, x+b.Dx(), y+b.Dy()), im, b.Min, draw.Src)
		}
	}
	return out
}
