package autoencoder

import (
	"fmt"
	"image"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/model/vae"
)

// Images are the training images, opaque 8-bit RGB, in a fixed order.
type Images struct {
	// List holds the images; Names their files (or given names).
	List  []*image.NRGBA
	Names []string
}

// LoadImages reads every image file under the folders (recursively, in
// sorted order; captions and other files are ignored). Images with a side
// below minSide are skipped and listed in skipped.
func LoadImages(folders []string, minSide int) (imgs *Images, skipped []string, err error) {
	imgs = &Images{}
	for _, dir := range folders {
		var paths []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && data.IsImageName(d.Name()) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("listing the images of %s: %w", dir, err)
		}
		sort.Strings(paths)
		for _, p := range paths {
			img, _, err := imageio.DecodeFile(p, imageio.DefaultOptions())
			if err != nil {
				return nil, nil, fmt.Errorf("reading training image %s: %w", p, err)
			}
			if b := img.Bounds(); b.Dx() < minSide || b.Dy() < minSide {
				skipped = append(skipped, fmt.Sprintf("%s (%dx%d)", p, b.Dx(), b.Dy()))
				continue
			}
			imgs.List = append(imgs.List, img)
			imgs.Names = append(imgs.Names, p)
		}
	}
	if len(imgs.List) == 0 {
		return nil, skipped, fmt.Errorf("no usable training images (at least %dx%d) in %v", minSide, minSide, folders)
	}
	return imgs, skipped, nil
}

// check reports images smaller than the crop.
func (s *Images) check(crop int) error {
	if s == nil || len(s.List) == 0 {
		return fmt.Errorf("no training images")
	}
	for i, img := range s.List {
		if b := img.Bounds(); b.Dx() < crop || b.Dy() < crop {
			return fmt.Errorf("training image %s is %dx%d, smaller than the %d-pixel crop", s.name(i), b.Dx(), b.Dy(), crop)
		}
	}
	return nil
}

func (s *Images) name(i int) string {
	if i < len(s.Names) {
		return s.Names[i]
	}
	return fmt.Sprintf("#%d", i)
}

// batch draws n random crops of side crop (image, position and flip from
// rng) → pixels [n, 3, crop, crop] in [-1, 1].
func (s *Images) batch(rng *rand.Rand, n, crop int, flip bool) (*tensors.Tensor, error) {
	rgb := make([]byte, 0, n*crop*crop*3)
	for b := 0; b < n; b++ {
		img := s.List[rng.IntN(len(s.List))]
		bounds := img.Bounds()
		x0 := bounds.Min.X + rng.IntN(bounds.Dx()-crop+1)
		y0 := bounds.Min.Y + rng.IntN(bounds.Dy()-crop+1)
		mirror := flip && rng.IntN(2) == 1
		rgb = appendCrop(rgb, img, x0, y0, crop, mirror)
	}
	return vae.PixelsFromRGB(rgb, n, crop, crop)
}

// crop returns the center w×h crop of the single image → pixels [1, 3, h, w].
func (s *Images) crop(w, h int) (*tensors.Tensor, error) {
	img := s.List[0]
	b := img.Bounds()
	rgb := make([]byte, 0, w*h*3)
	x0, y0 := b.Min.X+(b.Dx()-w)/2, b.Min.Y+(b.Dy()-h)/2
	for y := 0; y < h; y++ {
		row := img.Pix[(y0+y-img.Rect.Min.Y)*img.Stride:]
		for x := 0; x < w; x++ {
			p := row[(x0+x-img.Rect.Min.X)*4:]
			rgb = append(rgb, p[0], p[1], p[2])
		}
	}
	return vae.PixelsFromRGB(rgb, 1, h, w)
}

// centerCrops returns the center crop of side crop of the first n images
// (all of them when n ≤ 0) → pixels [n, 3, crop, crop].
func (s *Images) centerCrops(n, crop int) (*tensors.Tensor, error) {
	if n <= 0 || n > len(s.List) {
		n = len(s.List)
	}
	rgb := make([]byte, 0, n*crop*crop*3)
	for _, img := range s.List[:n] {
		b := img.Bounds()
		rgb = appendCrop(rgb, img, b.Min.X+(b.Dx()-crop)/2, b.Min.Y+(b.Dy()-crop)/2, crop, false)
	}
	return vae.PixelsFromRGB(rgb, n, crop, crop)
}

// appendCrop appends the interleaved RGB of the crop×crop square of img at
// (x0, y0), mirrored horizontally when mirror.
func appendCrop(rgb []byte, img *image.NRGBA, x0, y0, crop int, mirror bool) []byte {
	for y := 0; y < crop; y++ {
		row := img.Pix[(y0+y-img.Rect.Min.Y)*img.Stride:]
		for x := 0; x < crop; x++ {
			sx := x
			if mirror {
				sx = crop - 1 - x
			}
			p := row[(x0+sx-img.Rect.Min.X)*4:]
			rgb = append(rgb, p[0], p[1], p[2])
		}
	}
	return rgb
}
