package synth

import (
	"fmt"
	"image"
	"math/rand/v2"
)

// Edit is one generated edit pair: a reference (control) image and the
// target the model learns to produce from it and the caption.
type Edit struct {
	// Name is the file stem shared by the target and its reference, e.g.
	// "00-circle-green-to-red".
	Name string
	// Reference is the "before" image: the shape in its source colour.
	Reference *image.NRGBA
	// Target is the "after" image: the same shape, at the same place, size
	// and angle, in the colour the caption names.
	Target *image.NRGBA
	// Caption is the instruction, e.g. "make the circle red".
	Caption string
}

// EditOptions control the generated edit set.
type EditOptions struct {
	// Count is the number of pairs (1–48; pairs i and i+24 share shape and
	// target colour but not the source colour).
	Count int
	// Seed fixes placement jitter.
	Seed uint64
}

// DefaultEditOptions returns 24 pairs with seed 1.
func DefaultEditOptions() EditOptions { return EditOptions{Count: 24, Seed: 1} }

// editSizes are the pair sizes cycled through: mostly the demo's 64×64,
// with one landscape and one portrait variant.
var editSizes = [][2]int{{64, 64}, {80, 64}, {64, 64}, {64, 80}}

// GenerateEdits draws a recolouring task in the flora style: pair i shows
// shape i mod 8, recoloured to colour i mod 6 (so the first 24 pairs have
// distinct shape/target-colour combinations and each target colour appears
// equally often) from a different source colour that varies with i. The
// caption names the shape and the new colour only ("make the circle red");
// the source colour is what the reference shows.
func GenerateEdits(opts EditOptions) ([]Edit, error) {
	if n := len(shapes) * len(palette); opts.Count < 1 || opts.Count > n {
		return nil, fmt.Errorf("synth: edit count must be in [1, %d], got %d", n, opts.Count)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x65646974)) // "edit"
	out := make([]Edit, 0, opts.Count)
	for i := 0; i < opts.Count; i++ {
		sh := shapes[i%len(shapes)]
		dst := i % len(palette)
		src := (dst + 1 + (i/len(palette))%(len(palette)-1)) % len(palette) // never dst
		sz := editSizes[i%len(editSizes)]
		w, h := sz[0], sz[1]
		short := float64(min(w, h))
		sc := scene{
			shape:  sh.sdf,
			fill:   palette[src].rgb,
			cx:     float64(w)/2 + (rng.Float64()-0.5)*0.2*short,
			cy:     float64(h)/2 + (rng.Float64()-0.5)*0.2*short,
			radius: short * (0.28 + 0.06*rng.Float64()),
			angle:  (rng.Float64() - 0.5) * 0.5,
			unit:   short / 64,
		}
		ref := render(w, h, sc)
		sc.fill = palette[dst].rgb
		out = append(out, Edit{
			Name:      fmt.Sprintf("%02d-%s-%s-to-%s", i, sh.name, palette[src].name, palette[dst].name),
			Reference: ref,
			Target:    render(w, h, sc),
			Caption:   fmt.Sprintf("make the %s %s", sh.name, palette[dst].name),
		})
	}
	return out, nil
}
