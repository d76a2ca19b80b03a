package synth

import (
	"fmt"
	"math/rand/v2"
)

// Pair is a shape/colour combination by caption names, e.g.
// {Colour: "blue", Shape: "circle"}.
type Pair struct {
	Colour, Shape string
}

// Caption is the pair's flora-style caption, "a blue circle in flora style".
func (p Pair) Caption() string {
	return fmt.Sprintf("a %s %s in %s style", p.Colour, p.Shape, Trigger)
}

// HoldoutSize is the side of the held-out images (StyleHoldout).
const HoldoutSize = 64

// holdoutStream separates the placement jitter of GeneratePairs from
// Generate's ("holdout").
const holdoutStream = 0x686f6c646f7574

// GeneratePairs draws one flora-style image of each pair, w×h pixels (each
// at least 16), named "NN-colour-shape" in order and captioned with
// Pair.Caption; seed fixes the placement jitter. Colours and shapes must be
// the style's (the names Generate's captions use).
func GeneratePairs(pairs []Pair, w, h int, seed uint64) ([]Example, error) {
	if w < 16 || h < 16 {
		return nil, fmt.Errorf("synth: image size must be at least 16×16, got %d×%d", w, h)
	}
	rng := rand.New(rand.NewPCG(seed, holdoutStream))
	out := make([]Example, 0, len(pairs))
	for i, p := range pairs {
		sh, ok := shapeNamed(p.Shape)
		if !ok {
			return nil, fmt.Errorf("synth: pair %d: unknown shape %q (known: %v)", i, p.Shape, shapeNames())
		}
		col, ok := colourNamed(p.Colour)
		if !ok {
			return nil, fmt.Errorf("synth: pair %d: unknown colour %q (known: %v)", i, p.Colour, colourNames())
		}
		out = append(out, drawStyle(fmt.Sprintf("%02d", i), sh, col, w, h, rng))
	}
	return out, nil
}

// StyleHoldout returns the held-out validation images of the flora style:
// one HoldoutSize² image for each of StylePrompts, in order, captioned with
// the prompt. Their shape/colour pairs are not in the demo set
// (Generate(DefaultOptions())), so a loss measured on them shows whether a
// style LoRA generalises. tools/gendata -holdout writes them to
// examples/tiny/holdout.
func StyleHoldout() []Example {
	ex, err := GeneratePairs(heldOut, HoldoutSize, HoldoutSize, DefaultOptions().Seed)
	if err != nil {
		panic(err) // heldOut names only known shapes and colours (tested)
	}
	return ex
}

// WriteHoldoutDir writes StyleHoldout's NAME.png and NAME.txt into dir. It
// returns the number of images.
func WriteHoldoutDir(dir string) (int, error) { return writeExamples(dir, StyleHoldout()) }

// shapeNamed finds a shape by caption name.
func shapeNamed(name string) (shapeDef, bool) {
	for _, s := range shapes {
		if s.name == name {
			return s, true
		}
	}
	return shapeDef{}, false
}

// colourNamed finds a palette colour by caption name.
func colourNamed(name string) (named, bool) {
	for _, c := range palette {
		if c.name == name {
			return c, true
		}
	}
	return named{}, false
}

// shapeNames lists the shapes' caption names.
func shapeNames() []string {
	out := make([]string, len(shapes))
	for i, s := range shapes {
		out[i] = s.name
	}
	return out
}

// colourNames lists the palette's caption names.
func colourNames() []string {
	out := make([]string, len(palette))
	for i, c := range palette {
		out[i] = c.name
	}
	return out
}
