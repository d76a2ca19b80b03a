package autoencoder

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data/synth"
	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/train"
)

// demoConfig is the embedded demo autoencoder's architecture with ch base
// channels (32 is the demo's own).
func demoConfig(ch int) vae.Config {
	c := bundle.EmbeddedTinyVAEConfig()
	c.Ch = ch
	return c
}

// randomVAE is a seeded random autoencoder of demoConfig(ch).
func randomVAE(t *testing.T, ch int) *vae.VAE {
	t.Helper()
	v, err := vae.NewRandom(testutil.Backend(t), demoConfig(ch), 3, vae.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// shapeImages are n generated "flora style" shape images (64 to 128 px).
func shapeImages(t *testing.T, n int) *Images {
	t.Helper()
	ex, err := synth.Generate(synth.Options{Count: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	imgs := &Images{}
	for _, e := range ex {
		imgs.List = append(imgs.List, e.Image)
		imgs.Names = append(imgs.Names, e.Name)
	}
	return imgs
}

// testOptions trains with AdamW at a constant lr.
func testOptions(dir string, steps, batch, crop int, lr float64) Options {
	return Options{Steps: steps, BatchSize: batch, Crop: crop, Flip: true, Seed: 11,
		LR:        train.LRSchedule{Kind: "constant", Base: lr},
		Optimizer: train.OptimizerConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, MaxGradNorm: 1},
		OutDir:    dir, Name: "ae"}
}

func newTrainer(t *testing.T, v *vae.VAE, imgs *Images, opts Options) *Trainer {
	t.Helper()
	tr, err := New(testutil.Backend(t), v, imgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// fixedBatch is a deterministic batch and posterior noise.
func fixedBatch(t *testing.T, tr *Trainer, seed uint64, n int) (pixels, eps *tensors.Tensor) {
	t.Helper()
	saved := tr.rng
	defer func() { tr.rng = saved }()
	tr.rng = rand.New(rand.NewPCG(seed, seed))
	pixels, err := tr.images.batch(tr.rng, n, tr.opts.Crop, false)
	if err != nil {
		t.Fatal(err)
	}
	return pixels, tr.noise(n)
}

func flat(t *testing.T, x *tensors.Tensor) []float32 {
	t.Helper()
	out := make([]float32, x.Shape().Size())
	tensors.ConstFlatData(x, func(f []float32) { copy(out, f) })
	return out
}
