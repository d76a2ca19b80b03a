package autoencoder

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/model/vae"
)

// previewImages is the number of images a reconstruction preview shows.
const previewImages = 8

// WritePreview writes a PNG of the center crops of the first training
// images (top row) over their reconstructions decode(encode(x)) through the
// full latent path, BatchNorm included (bottom row).
func WritePreview(v *vae.VAE, images *Images, crop int, path string) error {
	px, err := images.centerCrops(previewImages, crop)
	if err != nil {
		return err
	}
	lat, err := v.Encode(px)
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	rec, err := v.Decode(lat)
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	orig, err := vae.ImagesFromPixels(px, vae.PixelRound)
	if err != nil {
		return err
	}
	recon, err := vae.ImagesFromPixels(rec, vae.PixelRound)
	if err != nil {
		return err
	}
	n := len(orig)
	grid := image.NewNRGBA(image.Rect(0, 0, n*crop, 2*crop))
	for i := 0; i < n; i++ {
		draw.Draw(grid, image.Rect(i*crop, 0, (i+1)*crop, crop), orig[i], image.Point{}, draw.Src)
		draw.Draw(grid, image.Rect(i*crop, crop, (i+1)*crop, 2*crop), recon[i], image.Point{}, draw.Src)
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { return png.Encode(w, grid) })
}
