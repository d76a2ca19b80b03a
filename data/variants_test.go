package data

import (
	"reflect"
	"testing"

	"github.com/flora-ml/flora/data/bucket"
)

// Every sample the plan produces (centre crop) is one of LatentVariants, and
// every caption one of CaptionVariants (no shuffling).
func TestVariantsCoverPlan(t *testing.T) {
	for _, flip := range []bool{false, true} {
		ds := synthDataset(6, func(c *Config) { c.Flip = flip; c.CaptionDropout = 0.3; c.Trigger = "flora" })
		lv, err := ds.LatentVariants()
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, it := range ds.Items {
			want += len(it.Assignments)
		}
		if flip {
			want *= 2
		}
		if len(lv) != want {
			t.Errorf("flip %v: %d latent variants, want %d", flip, len(lv), want)
		}
		type key struct {
			item, res int
			b         bucket.Bucket
			flip      bool
		}
		latents := map[key]Sample{}
		for _, s := range lv {
			latents[key{s.Item, s.Resolution, s.Bucket, s.Flip}] = s
		}
		captions := map[string]bool{}
		for _, c := range ds.CaptionVariants() {
			captions[c] = true
		}
		if !captions[""] || !captions["flora, c0"] || len(captions) != len(ds.Items)+1 {
			t.Errorf("caption variants %v", ds.CaptionVariants())
		}
		p, _ := NewPlan(ds, PlanOptions{Seed: 5, BatchSize: 2})
		for epoch := 0; epoch < 4; epoch++ {
			for _, b := range epochSamples(t, p, epoch) {
				for _, s := range b {
					v, ok := latents[key{s.Item, s.Resolution, s.Bucket, s.Flip}]
					if !ok || !reflect.DeepEqual(v.Crop, s.Crop) {
						t.Fatalf("sample %+v not among the latent variants", s)
					}
					if !captions[s.Caption] {
						t.Fatalf("caption %q not among the caption variants", s.Caption)
					}
				}
			}
		}
	}
	if _, err := synthDataset(2, func(c *Config) { c.Crop = CropRandom }).LatentVariants(); err == nil {
		t.Error("random crop: want error")
	}
}
