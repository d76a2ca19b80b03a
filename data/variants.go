package data

import (
	"fmt"
	"sort"

	"github.com/flora-ml/flora/data/bucket"
)

// LatentVariants lists every distinct preprocessed image the plan can ask
// for, so their latents can be computed once and cached: each item at each
// assigned resolution, centre-cropped, unflipped and (with Flip) flipped,
// with its references placed the same way (Sample.References).
// Captions are left empty. It fails with random crops, whose positions
// vary without end.
func (d *Dataset) LatentVariants() ([]Sample, error) {
	if d.Config.Crop == CropRandom {
		return nil, fmt.Errorf("latents cannot be cached with random crops (every sample has its own crop); use crop: center, or encode on the fly")
	}
	flips := []bool{false}
	if d.Config.Flip {
		flips = append(flips, true)
	}
	var out []Sample
	for i, it := range d.Items {
		for _, a := range it.Assignments {
			for _, f := range flips {
				out = append(out, Sample{
					Item: i, Resolution: a.Resolution, Bucket: a.Bucket,
					Crop: bucket.CropRect(it.Width, it.Height, a.Bucket, 0.5), Flip: f,
					References: sampleReferences(&d.Items[i], a, 0.5),
				})
			}
		}
	}
	return out, nil
}

// CaptionVariants lists the distinct caption texts the plan can ask for
// without tag shuffling: every item's caption with the trigger applied, and
// the empty caption when caption dropout is on. With ShuffleTags the
// shuffled orders are not listed (there are too many to cache); they have
// to be encoded on the fly.
func (d *Dataset) CaptionVariants() []string {
	seen := map[string]bool{}
	if d.Config.CaptionDropout > 0 {
		seen[""] = true
	}
	for i := range d.Items {
		it := &d.Items[i]
		seen[d.CaptionRulesOf(it).WithTrigger(it.Caption)] = true
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
