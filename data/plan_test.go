package data

import (
	"fmt"
	"image"
	"reflect"
	"testing"

	"github.com/flora-ml/flora/data/bucket"
)

// synthDataset builds a dataset in memory (no files): n items alternating
// between two buckets of resolution 64, item i with caption "c<i>" and
// repeats 1 + i%3; item 0 also trains at resolution 128.
func synthDataset(n int, mutate func(*Config)) *Dataset {
	cfg := DefaultConfig()
	cfg.CaptionDropout = 0
	if mutate != nil {
		mutate(&cfg)
	}
	ds := &Dataset{Config: cfg}
	sq, wide := bucket.Bucket{Width: 64, Height: 64}, bucket.Bucket{Width: 80, Height: 48}
	for i := 0; i < n; i++ {
		it := Item{Path: fmt.Sprintf("img%02d.png", i), Width: 200, Height: 200, Caption: fmt.Sprintf("c%d", i), Repeats: 1 + i%3}
		b := sq
		if i%2 == 1 {
			b, it.Width, it.Height = wide, 320, 180
		}
		it.Assignments = []Assignment{{Resolution: 64, Bucket: b, Scale: 0.5}}
		if i == 0 {
			it.Assignments = append(it.Assignments, Assignment{Resolution: 128, Bucket: bucket.Bucket{Width: 128, Height: 128}, Scale: 0.64})
		}
		ds.Items = append(ds.Items, it)
	}
	for _, r := range []int{64, 128} {
		ds.Sets = append(ds.Sets, bucket.Set{Resolution: r, Buckets: []bucket.Bucket{{Width: 48, Height: 80}, {Width: r, Height: r}, {Width: 80, Height: 48}}})
	}
	return ds
}

// epochSamples collects every sample of one epoch.
func epochSamples(t *testing.T, p *Plan, epoch int) [][]Sample {
	t.Helper()
	var out [][]Sample
	for i := 0; i < p.BatchesPerEpoch(); i++ {
		b, err := p.Batch(Position{epoch, i})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestPlanCoversEachSampleOncePerEpoch(t *testing.T) {
	ds := synthDataset(7, nil)
	// Samples per bucket: square (items 0,2,4,6: repeats 1,3,2,1) = 7;
	// wide (1,3,5: repeats 2,1,3) = 6; 128 square (item 0) = 1.
	for _, tc := range []struct {
		batch     int
		dropLast  bool
		perEpoch  int
		samplesEp int
	}{
		{1, false, 14, 14},
		{2, false, 4 + 3 + 1, 14},
		{3, false, 3 + 2 + 1, 14},
		{3, true, 2 + 2, 12},
		{7, true, 1, 7},
	} {
		t.Run(fmt.Sprintf("batch %d droplast %v", tc.batch, tc.dropLast), func(t *testing.T) {
			p, err := NewPlan(ds, PlanOptions{Seed: 1, BatchSize: tc.batch, DropLast: tc.dropLast})
			if err != nil {
				t.Fatal(err)
			}
			if p.BatchesPerEpoch() != tc.perEpoch {
				t.Fatalf("BatchesPerEpoch = %d, want %d", p.BatchesPerEpoch(), tc.perEpoch)
			}
			for epoch := 0; epoch < 3; epoch++ {
				count := map[[2]int]int{} // (item, resolution) → samples
				total := 0
				for _, b := range epochSamples(t, p, epoch) {
					if len(b) == 0 || len(b) > tc.batch || (tc.dropLast && len(b) != tc.batch) {
						t.Fatalf("batch of %d", len(b))
					}
					for _, s := range b {
						if s.Bucket != b[0].Bucket || s.Resolution != b[0].Resolution {
							t.Fatalf("mixed buckets in a batch: %+v", b)
						}
						count[[2]int{s.Item, s.Resolution}]++
						total++
					}
				}
				if total != tc.samplesEp {
					t.Errorf("epoch %d: %d samples, want %d", epoch, total, tc.samplesEp)
				}
				if !tc.dropLast {
					for i, it := range ds.Items {
						for _, a := range it.Assignments {
							if got := count[[2]int{i, a.Resolution}]; got != it.Repeats {
								t.Errorf("epoch %d: item %d at %d seen %d times, want %d", epoch, i, a.Resolution, got, it.Repeats)
							}
						}
					}
				}
			}
		})
	}
}

func TestPlanDeterminism(t *testing.T) {
	ds := synthDataset(9, func(c *Config) { c.Crop = CropRandom; c.Flip = true; c.CaptionDropout = 0.3 })
	mk := func(seed uint64) *Plan {
		p, err := NewPlan(ds, PlanOptions{Seed: seed, BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := mk(42), mk(42), mk(43)
	if !reflect.DeepEqual(epochSamples(t, a, 0), epochSamples(t, b, 0)) || !reflect.DeepEqual(epochSamples(t, a, 5), epochSamples(t, b, 5)) {
		t.Error("same seed, different batches")
	}
	if reflect.DeepEqual(epochSamples(t, a, 0), epochSamples(t, c, 0)) {
		t.Error("different seeds, same batches")
	}
	if reflect.DeepEqual(epochSamples(t, a, 0), epochSamples(t, a, 1)) {
		t.Error("two epochs in the same order")
	}
	// Random access equals sequential visiting (resumability): jump to a
	// position in a fresh plan after visiting other epochs.
	want := epochSamples(t, mk(42), 3)[4]
	fresh := mk(42)
	epochSamples(t, fresh, 7)
	if got, _ := fresh.Batch(Position{3, 4}); !reflect.DeepEqual(got, want) {
		t.Errorf("batch at epoch 3 index 4 depends on history:\n%+v\n%+v", got, want)
	}
}

func TestPlanAugmentation(t *testing.T) {
	ds := synthDataset(5, func(c *Config) { c.Crop = CropRandom; c.Flip = true; c.CaptionDropout = 0.5; c.Trigger = "flora" })
	p, err := NewPlan(ds, PlanOptions{Seed: 7, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	flips, crops, dropped, n := 0, map[image.Rectangle]bool{}, 0, 0
	for epoch := 0; epoch < 40; epoch++ {
		for _, b := range epochSamples(t, p, epoch) {
			s := b[0]
			it := ds.Items[s.Item]
			n++
			if s.Flip {
				flips++
			}
			if s.Caption == "" {
				dropped++
			} else if s.Caption != "flora, "+it.Caption {
				t.Fatalf("caption %q for %q", s.Caption, it.Caption)
			}
			// The crop lies in the image and has the size of the centre crop.
			if !s.Crop.In(image.Rect(0, 0, it.Width, it.Height)) || s.Crop.Size() != bucket.CropRect(it.Width, it.Height, s.Bucket, 0.5).Size() {
				t.Fatalf("crop %v of %dx%d for %v", s.Crop, it.Width, it.Height, s.Bucket)
			}
			if s.Item == 1 {
				crops[s.Crop] = true
			}
		}
	}
	if flips < n/3 || flips > 2*n/3 {
		t.Errorf("%d flips in %d samples", flips, n)
	}
	if dropped < n/3 || dropped > 2*n/3 {
		t.Errorf("%d dropped captions in %d samples", dropped, n)
	}
	if len(crops) < 10 {
		t.Errorf("random crop of a 320x180 image into 80x48 gave only %d positions", len(crops))
	}
	// Centre crop, no flip: always the same.
	ds2 := synthDataset(5, nil)
	p2, _ := NewPlan(ds2, PlanOptions{Seed: 7, BatchSize: 1})
	for epoch := 0; epoch < 3; epoch++ {
		for _, b := range epochSamples(t, p2, epoch) {
			s := b[0]
			it := ds2.Items[s.Item]
			if s.Flip || s.Crop != bucket.CropRect(it.Width, it.Height, s.Bucket, 0.5) {
				t.Fatalf("centre/no-flip sample %+v", s)
			}
		}
	}
}

func TestPositions(t *testing.T) {
	p, err := NewPlan(synthDataset(3, nil), PlanOptions{Seed: 1, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := p.BatchesPerEpoch()
	if got := p.Next(Position{2, n - 1}); got != (Position{3, 0}) {
		t.Errorf("Next at end of epoch = %v", got)
	}
	if got := p.Next(Position{2, 0}); got != (Position{2, 1}) {
		t.Errorf("Next = %v", got)
	}
	for _, bad := range []Position{{0, n}, {-1, 0}, {0, -1}} {
		if _, err := p.Batch(bad); err == nil {
			t.Errorf("Batch(%v): want error", bad)
		}
	}
	b, err := (Position{Epoch: 4, Index: 2}).MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParsePosition(b); err != nil || got != (Position{4, 2}) {
		t.Errorf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "{", `{"epoch":-1,"index":0}`} {
		if _, err := ParsePosition([]byte(bad)); err == nil {
			t.Errorf("ParsePosition(%q): want error", bad)
		}
	}
	if _, err := NewPlan(&Dataset{Config: DefaultConfig()}, PlanOptions{BatchSize: 1}); err == nil {
		t.Error("empty dataset: want error")
	}
	if _, err := NewPlan(synthDataset(3, nil), PlanOptions{BatchSize: 0}); err == nil {
		t.Error("batch size 0: want error")
	}
	if _, err := NewPlan(synthDataset(1, nil), PlanOptions{BatchSize: 5, DropLast: true}); err == nil {
		t.Error("no full batch with drop-last: want error")
	}
}
