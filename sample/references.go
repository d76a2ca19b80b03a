package sample

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/vae"
)

// LatentEncoder turns images pixels [B, 3, H, W] (float32 in [−1, 1]) into
// normalised packed latents [B, C, H/p, W/p], p being
// Sampler.PixelsPerLatent; *vae.VAE is one.
type LatentEncoder interface {
	Encode(pixels *tensors.Tensor) (*tensors.Tensor, error)
}

// Reference image limits of Black Forest Labs' encode_image_refs and
// default_prep (sampling.py): a reference above the pixel budget is scaled
// down to it (aspect kept), and sides below RefMinSide or aspect ratios
// above RefMaxAspect are refused.
const (
	// RefMaxPixelsOne is the pixel budget of a single reference (2024²).
	RefMaxPixelsOne = 2024 * 2024
	// RefMaxPixelsMany is the pixel budget of each of several references (1024²).
	RefMaxPixelsMany = 1024 * 1024
	// RefMinSide is the smallest accepted side in pixels.
	RefMinSide = 64
	// RefMaxAspect is the largest accepted ratio of the long to the short side.
	RefMaxAspect = 8
)

// RefPixelBudget is the pixel budget of each of count references:
// RefMaxPixelsOne for one, RefMaxPixelsMany for several. (diffusers'
// Flux2Pipeline caps every reference at 1024² whatever the count; Flora
// follows Black Forest Labs.)
func RefPixelBudget(count int) int {
	if count == 1 {
		return RefMaxPixelsOne
	}
	return RefMaxPixelsMany
}

// PrepareReference preprocesses reference image k of count as Black Forest
// Labs' default_prep does: RGB (alpha dropped), sides ≥ RefMinSide and
// aspect ≤ RefMaxAspect checked, scaled down with a Lanczos filter to
// int(w·s)×int(h·s), s = √(budget/(w·h)), when above RefPixelBudget(count),
// then centre-cropped to multiples of multiple (the pixels per latent token:
// 16 for FLUX.2), the crop's origin rounded down. Resampling is Lanczos-3
// (github.com/disintegration/imaging), close to but not bit-identical with
// PIL's; images within the budget are only cropped, exactly.
func PrepareReference(img image.Image, k, count, multiple int) (*image.NRGBA, error) {
	if multiple < 1 {
		return nil, fmt.Errorf("reference %d: pixels per latent must be positive, got %d", k, multiple)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if err := CheckReferenceSize(k, w, h); err != nil {
		return nil, err
	}
	rgb := toNRGBA(img)
	if budget := RefPixelBudget(count); w*h > budget {
		s := math.Sqrt(float64(budget) / float64(w*h))
		nw, nh := int(float64(w)*s), int(float64(h)*s)
		var err error
		if rgb, err = imageio.CropResize(rgb, rgb.Rect, nw, nh); err != nil {
			return nil, fmt.Errorf("reference %d: %w", k, err)
		}
		w, h = nw, nh
	}
	cw, ch := w/multiple*multiple, h/multiple*multiple
	if cw == 0 || ch == 0 {
		return nil, fmt.Errorf("reference %d is %dx%d: smaller than one latent token (%d pixels)", k, w, h, multiple)
	}
	x0, y0 := rgb.Rect.Min.X+(w-cw)/2, rgb.Rect.Min.Y+(h-ch)/2
	return imageio.CropResize(rgb, image.Rect(x0, y0, x0+cw, y0+ch), cw, ch)
}

// CheckReferenceSize refuses a w×h reference image k that Black Forest Labs'
// cap_min_pixels refuses: a side below RefMinSide or an aspect ratio above
// RefMaxAspect.
func CheckReferenceSize(k, w, h int) error {
	switch {
	case w < RefMinSide || h < RefMinSide:
		return fmt.Errorf("reference %d is %dx%d: both sides must be at least %d pixels", k, w, h, RefMinSide)
	case w > RefMaxAspect*h || h > RefMaxAspect*w:
		return fmt.Errorf("reference %d is %dx%d: the aspect ratio must be at most %d:1", k, w, h, RefMaxAspect)
	}
	return nil
}

// toNRGBA copies img into a non-premultiplied RGBA image whose colours are
// img's without alpha (as PIL's convert("RGB")), fully opaque.
func toNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			c.A = 0xff
			out.SetNRGBA(x, y, c)
		}
	}
	return out
}

// References preprocesses the reference images (PrepareReference), encodes
// each with the Sampler's Encoder and returns their tokens and position ids
// (flux2.NewReferences); nil for none. Generate and Denoise call it once
// per request.
func (s *Sampler) References(imgs []image.Image) (*flux2.References, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	if s.Encoder == nil {
		return nil, fmt.Errorf("%d reference image(s) given but the sampler has no image encoder (VAE)", len(imgs))
	}
	latents := make([]*tensors.Tensor, len(imgs))
	for k, img := range imgs {
		prep, err := PrepareReference(img, k, len(imgs), s.pixelsPerLatent())
		if err != nil {
			return nil, err
		}
		px, err := vae.PixelsFromImages([]image.Image{prep})
		if err != nil {
			return nil, fmt.Errorf("reference %d: %w", k, err)
		}
		if latents[k], err = s.Encoder.Encode(px); err != nil {
			return nil, fmt.Errorf("encoding reference %d: %w", k, err)
		}
	}
	refs, err := flux2.NewReferences(latents)
	if err != nil {
		return nil, err
	}
	if refs.Channels != s.Model.Config.InChannels {
		return nil, fmt.Errorf("reference latents have %d channels, the transformer takes %d: the VAE does not match the model", refs.Channels, s.Model.Config.InChannels)
	}
	return refs, nil
}
