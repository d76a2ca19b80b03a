package pipeline

import (
	"errors"
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/model/vae"
)

// The model components as the cache and the sampler consume them.

// vaeLatents adapts the VAE to the latent cache.
type vaeLatents struct {
	v  *vae.VAE
	id string
}

func (l *vaeLatents) Identity() string { return l.id }

// Encode encodes images [C, H, W] (one size) into latents [C', H', W'].
func (l *vaeLatents) Encode(images []cache.Tensor) ([]cache.Tensor, error) {
	if len(images) == 0 {
		return nil, nil
	}
	s := images[0].Shape
	flat := make([]float32, 0, len(images)*len(images[0].Data))
	for _, im := range images {
		flat = append(flat, im.Data...)
	}
	lat, err := l.v.Encode(tensors.FromFlatDataAndDimensions(flat, len(images), s[0], s[1], s[2]))
	if err != nil {
		return nil, err
	}
	return splitRows(lat, len(images))
}

// promptEmbeddings adapts a text-context source to the text cache.
type promptEmbeddings struct{ c textenc.Contexts }

// Identity is the cache identity: the text encoder's with its layer set
// and length, or the table's content hash.
func (t *promptEmbeddings) Identity() string {
	if p, ok := t.c.(*textenc.PromptEncoder); ok {
		return cache.TextIdentity(p.Identity(), p.Layers(), p.MaxLen)
	}
	return t.c.Identity()
}

// Encode encodes captions into embeddings [L, D].
func (t *promptEmbeddings) Encode(captions []string) ([]cache.Tensor, error) {
	e, err := t.c.Encode(captions)
	if err != nil {
		return nil, err
	}
	return splitRows(e, len(captions))
}

// splitRows splits a float32 tensor [n, ...] into n cache tensors [...].
func splitRows(t *tensors.Tensor, n int) ([]cache.Tensor, error) {
	d := t.Shape().Dimensions
	vals, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	per := len(vals) / n
	out := make([]cache.Tensor, n)
	for i := range out {
		out[i] = cache.Tensor{Shape: append([]int(nil), d[1:]...), Data: vals[i*per : (i+1)*per]}
	}
	return out, nil
}

// vaeDecoder adapts the VAE to sample.LatentDecoder.
type vaeDecoder struct{ v *vae.VAE }

func (d vaeDecoder) Decode(latents *tensors.Tensor) ([]image.Image, error) {
	px, err := d.v.Decode(latents)
	if err != nil {
		return nil, err
	}
	imgs, err := vae.ImagesFromPixels(px, vae.PixelRound)
	if err != nil {
		return nil, err
	}
	out := make([]image.Image, len(imgs))
	for i, im := range imgs {
		out[i] = im
	}
	return out, nil
}

// fixedText serves embeddings computed beforehand as a sample.TextEncoder:
// ctx [1, L, D] for the prompt and negative [1, L, D] for classifier-free
// guidance (nil without).
type fixedText struct{ ctx, negative *tensors.Tensor }

func (f fixedText) Encode(prompts []string) (*tensors.Tensor, error) {
	if len(prompts) == 1 {
		return f.ctx, nil
	}
	if f.negative == nil {
		return nil, errors.New("no negative embedding for classifier-free guidance")
	}
	a := tensors.MustCopyFlatData[float32](f.negative)
	b := tensors.MustCopyFlatData[float32](f.ctx)
	d := f.ctx.Shape().Dimensions
	return tensors.FromFlatDataAndDimensions(append(a, b...), 2, d[1], d[2]), nil
}
