package pipeline

import (
	"image"
	"image/color"
	"image/draw"
)

// Preview grid spacing in pixels: previewPad around and between tiles (as
// sample.Grid), previewPairGap between two seeds' base | adapter pairs.
const (
	previewPad     = 4
	previewPairGap = 16
)

// previewLayout places a preview's tiles: rows are the prompts, columns the
// seeds. With compare, each seed holds a pair — the base model's image, a
// previewPad gap, the adapted image — and pairs are previewPairGap apart, so
// which two images belong together is plain; without, one adapted image per
// seed (the grid of sample.Grid).
type previewLayout struct {
	rows, seeds int
	// tile is the size of one image.
	tile    image.Point
	compare bool
}

// layoutText describes the layout for the PNG's "layout" text chunk.
func (l previewLayout) layoutText() string {
	if l.compare {
		return "rows: prompts; columns: seeds, each base | adapter (base: adapter off, same seed and settings)"
	}
	return "rows: prompts; columns: seeds (adapter)"
}

// pairWidth is the width of one seed's column: a pair, or one tile.
func (l previewLayout) pairWidth() int {
	if l.compare {
		return 2*l.tile.X + previewPad
	}
	return l.tile.X
}

// gap is the space between two seeds' columns.
func (l previewLayout) gap() int {
	if l.compare {
		return previewPairGap
	}
	return previewPad
}

// size is the whole image's size.
func (l previewLayout) size() image.Point {
	w := 2*previewPad + l.seeds*l.pairWidth() + max(l.seeds-1, 0)*l.gap()
	h := l.rows*l.tile.Y + (l.rows+1)*previewPad
	return image.Pt(w, h)
}

// tileRect is where the image of prompt row at seed column col goes: the
// adapted one, or (compare only) the base one.
func (l previewLayout) tileRect(row, col int, base bool) image.Rectangle {
	x := previewPad + col*(l.pairWidth()+l.gap())
	if l.compare && !base {
		x += l.tile.X + previewPad
	}
	y := previewPad + row*(l.tile.Y+previewPad)
	return image.Rectangle{Min: image.Pt(x, y), Max: image.Pt(x+l.tile.X, y+l.tile.Y)}
}

// draw composes the preview on white: adapted[row][col] and, with compare,
// base[row][col] beside each.
func (l previewLayout) draw(base, adapted [][]image.Image) *image.RGBA {
	out := image.NewRGBA(image.Rectangle{Max: l.size()})
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	put := func(im image.Image, r image.Rectangle) {
		draw.Draw(out, r, im, im.Bounds().Min, draw.Src)
	}
	for i, row := range adapted {
		for j, im := range row {
			put(im, l.tileRect(i, j, false))
			if l.compare {
				put(base[i][j], l.tileRect(i, j, true))
			}
		}
	}
	return out
}
