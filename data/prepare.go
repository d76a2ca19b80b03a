package data

import (
	"fmt"

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
	img, info, err := imageio.DecodeFile(it.Path, d.Config.DecodeOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Path, err)
	}
	if info.Width != it.Width || info.Height != it.Height {
		return nil, fmt.Errorf("%s: the image changed since the dataset was scanned (%dx%d, was %dx%d); restart to rescan", it.Path, info.Width, info.Height, it.Width, it.Height)
	}
	out, err := imageio.CropResize(img, s.Crop, s.Bucket.Width, s.Bucket.Height)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Path, err)
	}
	return imageio.ToCHW(out, s.Flip, dst), nil
}
