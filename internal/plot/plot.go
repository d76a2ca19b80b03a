// Package plot renders simple line charts (loss curves, run and rank
// comparisons) to PNG without external dependencies beyond golang.org/x/image.
package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/flora-ml/flora/internal/fsutil"
)

// Series is one line of a chart.
type Series struct {
	Name string
	X, Y []float64
	// Color of the line; nil picks one from the palette.
	Color color.Color
	// Faint draws the line thin and light (e.g. raw values under a smoothed curve).
	Faint bool
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// Width and Height in pixels (default 900×500).
	Width, Height int
	// LogY uses a logarithmic y axis (all values must be > 0).
	LogY bool
}

// Palette is the default series colors.
var Palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// WritePNG renders the chart and writes it to path atomically.
func (c *Chart) WritePNG(path string) error {
	img, err := c.Render()
	if err != nil {
		return fmt.Errorf("plotting %s: %w", path, err)
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// EncodePNG renders the chart to PNG bytes.
func (c *Chart) EncodePNG() ([]byte, error) {
	img, err := c.Render()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = png.Encode(&b, img)
	return b.Bytes(), err
}

// Render draws the chart.
func (c *Chart) Render() (*image.RGBA, error) {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 900
	}
	if h == 0 {
		h = 500
	}
	xmin, xmax, ymin, ymax, err := c.bounds()
	if err != nil {
		return nil, err
	}
	face, small, err := faces()
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	left, right, top, bottom := 70, 20, 40, 55
	if len(c.Series) > 1 {
		right = 180
	}
	pw, ph := w-left-right, h-top-bottom
	if pw < 50 || ph < 50 {
		return nil, errors.New("chart too small")
	}
	ty := func(y float64) float64 {
		if c.LogY {
			return math.Log10(y)
		}
		return y
	}
	yl, yh := ty(ymin), ty(ymax)
	px := func(x float64) float64 { return float64(left) + (x-xmin)/(xmax-xmin)*float64(pw) }
	py := func(y float64) float64 { return float64(top) + (yh-ty(y))/(yh-yl)*float64(ph) }

	grid := color.RGBA{225, 225, 225, 255}
	axis := color.RGBA{60, 60, 60, 255}
	for _, xt := range ticks(xmin, xmax, 8) {
		x := px(xt)
		line(img, x, float64(top), x, float64(top+ph), grid, 1)
		text(img, small, formatTick(xt), int(x), top+ph+16, axis, true)
	}
	var yticks []float64
	if c.LogY {
		for e := math.Floor(yl); e <= math.Ceil(yh); e++ {
			if e >= yl-1e-9 && e <= yh+1e-9 {
				yticks = append(yticks, math.Pow(10, e))
			}
		}
		if len(yticks) < 2 {
			yticks = logTicks(ymin, ymax)
		}
	} else {
		yticks = ticks(ymin, ymax, 6)
	}
	for _, yt := range yticks {
		y := py(yt)
		line(img, float64(left), y, float64(left+pw), y, grid, 1)
		text(img, small, formatTick(yt), left-6, int(y)+4, axis, false)
	}
	line(img, float64(left), float64(top+ph), float64(left+pw), float64(top+ph), axis, 1)
	line(img, float64(left), float64(top), float64(left), float64(top+ph), axis, 1)
	text(img, face, c.Title, w/2, 24, color.Black, true)
	text(img, small, c.XLabel, left+pw/2, h-12, axis, true)
	text(img, small, c.YLabel, 8+textWidth(small, c.YLabel), top-8, axis, false)

	for i, s := range c.Series {
		col := s.Color
		if col == nil {
			col = Palette[i%len(Palette)]
		}
		width := 2.0
		if s.Faint {
			r, g, b, _ := col.RGBA()
			col = color.RGBA{uint8(r>>8/3 + 170), uint8(g>>8/3 + 170), uint8(b>>8/3 + 170), 255}
			width = 1
		}
		for j := 1; j < len(s.X); j++ {
			line(img, px(s.X[j-1]), py(s.Y[j-1]), px(s.X[j]), py(s.Y[j]), col, width)
		}
		if len(s.X) == 1 {
			line(img, px(s.X[0])-2, py(s.Y[0]), px(s.X[0])+2, py(s.Y[0]), col, 4)
		}
		if len(c.Series) > 1 && s.Name != "" {
			ly := top + 12 + 20*i
			line(img, float64(left+pw+12), float64(ly-4), float64(left+pw+36), float64(ly-4), col, 3)
			text(img, small, s.Name, left+pw+42+textWidth(small, s.Name), ly, axis, false)
		}
	}
	return img, nil
}

// bounds computes the data range with a small margin.
func (c *Chart) bounds() (xmin, xmax, ymin, ymax float64, err error) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	n := 0
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return 0, 0, 0, 0, fmt.Errorf("series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		for i := range s.X {
			x, y := s.X[i], s.Y[i]
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				return 0, 0, 0, 0, fmt.Errorf("series %q has a non-finite point (%g, %g)", s.Name, x, y)
			}
			if c.LogY && y <= 0 {
				return 0, 0, 0, 0, fmt.Errorf("series %q has y = %g on a log axis", s.Name, y)
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			n++
		}
	}
	if n == 0 {
		return 0, 0, 0, 0, errors.New("nothing to plot")
	}
	if xmax == xmin {
		xmin, xmax = xmin-1, xmax+1
	}
	if ymax == ymin {
		d := math.Max(math.Abs(ymin)*0.1, 1e-3)
		ymin, ymax = ymin-d, ymax+d
		if c.LogY {
			ymin, ymax = ymin/2, ymax*2
		}
	}
	if !c.LogY {
		m := (ymax - ymin) * 0.05
		ymin, ymax = ymin-m, ymax+m
	}
	return xmin, xmax, ymin, ymax, nil
}

// ticks returns "nice" tick values (1, 2, 5 × 10^k) covering [lo, hi].
func ticks(lo, hi float64, target int) []float64 {
	span := hi - lo
	raw := span / float64(target)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, f := range []float64{1, 2, 5, 10} {
		if f*mag >= raw {
			step = f * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func logTicks(lo, hi float64) []float64 {
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, f := range []float64{1, 2, 5} {
			v := f * math.Pow(10, e)
			if v >= lo && v <= hi {
				out = append(out, v)
			}
		}
	}
	return out
}

func formatTick(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	if a >= 1e5 || a < 1e-3 {
		return fmt.Sprintf("%.0e", v)
	}
	s := fmt.Sprintf("%.4g", v)
	return s
}

func faces() (font.Face, font.Face, error) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, nil, err
	}
	big, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 16, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, nil, err
	}
	small, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 12, DPI: 72, Hinting: font.HintingFull})
	return big, small, err
}

func textWidth(face font.Face, s string) int {
	return font.MeasureString(face, s).Ceil()
}

// text draws s with its baseline at y; centered around x, or right-aligned
// to x when center is false.
func text(img *image.RGBA, face font.Face, s string, x, y int, col color.Color, center bool) {
	wdt := textWidth(face, s)
	if center {
		x -= wdt / 2
	} else {
		x -= wdt
	}
	d := &font.Drawer{Dst: img, Src: image.NewUniform(col), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// line draws an anti-aliasing-free line of the given width (Bresenham-style
// stepping along the longer axis).
func line(img *image.RGBA, x0, y0, x1, y1 float64, col color.Color, width float64) {
	dx, dy := x1-x0, y1-y0
	steps := int(math.Max(math.Abs(dx), math.Abs(dy))) + 1
	r := int(width / 2)
	for i := 0; i <= steps; i++ {
		f := float64(i) / float64(steps)
		cx, cy := int(math.Round(x0+f*dx)), int(math.Round(y0+f*dy))
		for ox := -r; ox <= r; ox++ {
			for oy := -r; oy <= r; oy++ {
				if width < 2 && (ox != 0 || oy != 0) {
					continue
				}
				img.Set(cx+ox, cy+oy, col)
			}
		}
	}
}
