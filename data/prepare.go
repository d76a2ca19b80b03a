package data

import (
	"fmt"
	"image"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/imageio"
)

// Pixels decodes a sample's image and returns it preprocessed: cropped to
// s.Crop, resized to the bucket with a Lanczos filter, flipped if s.Flip,
// as a float32 tensor [3, Bucket.Height, Bucket.Width] with values in
// [−1, 1]. dst is reused when it has room.
func (d *Dataset) Pixels(s Sample, dst []float32) ([]float32, error) {
	if s.Item < 0 || s.Item >= len(d.Items) {
		return nil, fmt.Errorf("sample refers to item %d of %d", s.Item, len(d.Items))
	}
	it := &d.Items[s.Item]
	return d.pixels(it.Path, it.Width, it.Height, s.Bucket, s.Crop, s.Flip, dst)
}

// ReferencePixels is Pixels for reference j of the sample's item: cropped
// to s.References[j].Crop, resized to its Bucket, flipped if s.Flip, as a
// [3, H, W] tensor in [−1, 1].
func (d *Dataset) ReferencePixels(s Sample, j int, dst []float32) ([]float32, error) {
	if s.Item < 0 || s.Item >= len(d.Items) {
		return nil, fmt.Errorf("sample refers to item %d of %d", s.Item, len(d.Items))
	}
	it := &d.Items[s.Item]
	if j < 0 || j >= len(it.References) || j >= len(s.References) {
		return nil, fmt.Errorf("%s: sample refers to reference %d of %d (%d placed)", it.Path, j, len(it.References), len(s.References))
	}
	r, sr := &it.References[j], s.References[j]
	return d.pixels(r.Path, r.Width, r.Height, sr.Bucket, sr.Crop, s.Flip, dst)
}

// pixels decodes the image at path, checks it still has the scanned size
// w×h, and crops, resizes and flips it.
func (d *Dataset) pixels(path string, w, h int, b bucket.Bucket, crop image.Rectangle, flip bool, dst []float32) ([]float32, error) {
	img, info, err := imageio.DecodeFile(path, d.Config.DecodeOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if info.Width != w || info.Height != h {
		return nil, fmt.Errorf("%s: the image changed since the dataset was scanned (%dx%d, was %dx%d); restart to rescan", path, info.Width, info.Height, w, h)
	}
	out, err := imageio.CropResize(img, crop, b.Width, b.Height)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return imageio.ToCHW(out, flip, dst), nil
}
