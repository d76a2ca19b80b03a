package plot

import (
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

func TestRenderLossCurve(t *testing.T) {
	var x, y, smooth []float64
	ema := 0.0
	for i := 1; i <= 200; i++ {
		x = append(x, float64(i))
		v := 1/math.Sqrt(float64(i)) + 0.1*math.Sin(float64(i))
		y = append(y, v)
		if i == 1 {
			ema = v
		}
		ema = 0.9*ema + 0.1*v
		smooth = append(smooth, ema)
	}
	c := &Chart{Title: "loss", XLabel: "step", YLabel: "loss", Series: []Series{
		{Name: "loss", X: x, Y: y, Faint: true}, {Name: "smoothed", X: x, Y: smooth},
	}}
	path := filepath.Join(t.TempDir(), "loss.png")
	if err := c.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	img := testutil.DecodePNGFile(t, path)
	if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 500 {
		t.Errorf("size %v", b)
	}
	// The smoothed series' color must appear in the plot area.
	want := Palette[1]
	found := false
	for yy := 40; yy < 445 && !found; yy++ {
		for xx := 70; xx < 720; xx++ {
			if img.At(xx, yy) == color.Color(want) {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("series color not drawn")
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []*Chart{
		{},
		{Series: []Series{{X: []float64{1}, Y: []float64{1, 2}}}},
		{Series: []Series{{X: []float64{1}, Y: []float64{math.NaN()}}}},
		{LogY: true, Series: []Series{{X: []float64{1, 2}, Y: []float64{1, 0}}}},
	}
	for i, c := range tests {
		if _, err := c.Render(); err == nil {
			t.Errorf("chart %d rendered without error", i)
		}
	}
}

func TestTicks(t *testing.T) {
	got := ticks(0, 1, 5)
	want := []float64{0, 0.2, 0.4, 0.6, 0.8, 1}
	if len(got) != len(want) {
		t.Fatalf("ticks %v", got)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("tick %d = %g, want %g", i, got[i], want[i])
		}
	}
}
