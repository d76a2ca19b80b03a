package data

import (
	"strings"
	"testing"
)

// TestRegularizationFolder: a regularisation folder's images train without
// the trigger word (also in the caption variants the text cache encodes),
// the others with it, and each epoch mixes them in by repeats: here 2
// regularisation images ×3 repeats among 4 images ×1 — 6 of 10 samples.
func TestRegularizationFolder(t *testing.T) {
	ds := synthDataset(6, func(c *Config) {
		c.Trigger = "ohwx"
		c.Folders = []Folder{{Path: "subject"}, {Path: "class", Regularization: true, Weight: 0.5}}
	})
	for i := range ds.Items {
		ds.Items[i].Repeats = 1
		if i >= 4 {
			ds.Items[i].Folder, ds.Items[i].Repeats = 1, 3
		}
	}
	if err := ds.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := ds.Config.Folders[1].LossWeight(); got != 0.5 {
		t.Errorf("regularisation folder weight %v, want 0.5", got)
	}
	if got := ds.Config.Folders[0].LossWeight(); got != 1 {
		t.Errorf("unset folder weight %v, want 1", got)
	}
	variants := strings.Join(ds.CaptionVariants(), "|")
	for i, it := range ds.Items {
		want := "ohwx, " + it.Caption
		if i >= 4 {
			want = it.Caption
		}
		if !strings.Contains("|"+variants+"|", "|"+want+"|") {
			t.Errorf("caption variants %q lack %q", variants, want)
		}
	}
	p, err := NewPlan(ds, PlanOptions{Seed: 3, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	reg, total := 0, 0
	for _, batch := range epochSamples(t, p, 0) {
		for _, s := range batch {
			if s.Resolution != 64 {
				continue // item 0 also trains at 128
			}
			total++
			it := ds.Items[s.Item]
			if it.Folder == 1 {
				reg++
				if strings.Contains(s.Caption, "ohwx") {
					t.Errorf("regularisation image %s trained with the trigger: %q", it.Path, s.Caption)
				}
			} else if !strings.Contains(s.Caption, "ohwx") {
				t.Errorf("image %s trained without the trigger: %q", it.Path, s.Caption)
			}
		}
	}
	if reg != 6 || total != 10 {
		t.Errorf("%d of %d samples at 64 are regularisation images, want 6 of 10", reg, total)
	}

	bad := ds.Config
	bad.Folders = []Folder{{Path: "x", Weight: -1}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "weight must be in [0, 100]") {
		t.Errorf("negative weight: %v", err)
	}
}
