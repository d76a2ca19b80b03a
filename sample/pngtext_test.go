package sample

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func TestPNGTextRoundTrip(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{200, 10, 20, 255})
	text := []TextChunk{{"prompt", "a red fox in flora style — ünïcödé 狐"}, {"seed", "42"}, {"loras", "style.safetensors:0.8"}}
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img, text); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPNGText(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(text) {
		t.Fatalf("got %d chunks, want %d", len(got), len(text))
	}
	for i := range text {
		if got[i] != text[i] {
			t.Errorf("chunk %d = %+v, want %+v", i, got[i], text[i])
		}
	}
	// Standard decoders still read the image (CRCs valid).
	dec, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := dec.At(1, 1).RGBA(); r>>8 != 200 || g>>8 != 10 || b>>8 != 20 {
		t.Errorf("pixel = %d %d %d", r>>8, g>>8, b>>8)
	}
	if err := EncodePNG(&buf, img, []TextChunk{{"", "x"}}); err == nil {
		t.Error("empty key accepted")
	}
}

func TestGrid(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 4, 4))
	b := image.NewRGBA(image.Rect(0, 0, 2, 2))
	g := Grid([][]image.Image{{a, b}, {b}}, 1, color.White)
	if g.Bounds().Dx() != 2*4+3 || g.Bounds().Dy() != 2*4+3 {
		t.Errorf("grid size %v", g.Bounds())
	}
}
