package cache

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

// refDataset writes images a.png (64x64) and b.png (96x64) with control
// images a.png, b_0.png (128x64) and b_1.png (the same content as a's
// reference), unless a test rewrote them, and scans them at 64 with flips.
func refDataset(t *testing.T, dir string) *data.Dataset {
	t.Helper()
	red, blue := color.NRGBA{200, 0, 0, 255}, color.NRGBA{0, 0, 200, 255}
	shared := datatest.PNG(t, datatest.Split(64, 64, red, blue))
	files := map[string][]byte{
		"images/a.png":    datatest.PNG(t, datatest.Split(64, 64, datatest.Left, datatest.Right)),
		"images/b.png":    datatest.PNG(t, datatest.Split(96, 64, datatest.Right, datatest.Left)),
		"control/a.png":   shared,
		"control/b_0.png": datatest.PNG(t, datatest.Split(128, 64, blue, red)),
		"control/b_1.png": shared,
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if _, err := os.Stat(p); err == nil {
			continue // keep files a test rewrote
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, b)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: filepath.Join(dir, "images"), Control: filepath.Join(dir, "control"), DefaultCaption: "x"}}
	cfg.MinSide, cfg.Resolutions, cfg.Flip = 16, []int{64}, true
	ds, problems, err := data.Scan(cfg)
	if err != nil || len(problems) != 1 || problems[0].Kind != data.ProblemReferenceCount {
		t.Fatalf("scan: %v %v (want only the reference-count warning for a.png)", err, problems)
	}
	return ds
}

// References are cached with their targets: shared content prepared alike
// is encoded once, a changed reference rebuilds only its entries, and the
// entries hold the encoder's output for the prepared reference.
func TestBuildReferenceLatents(t *testing.T) {
	dir := t.TempDir()
	store, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	vae := &blockMeanVAE{id: "vae@1"}
	// 4 targets (a, b, each flipped or not) and 4 references: a.png and
	// b_0.png, each flipped or not (b_1.png is a.png's content at the same
	// size and crop: the same entries).
	steps := []struct {
		name                  string
		change                func()
		total, reused, encode int
	}{
		{"first build", nil, 8, 0, 8},
		{"second build reuses all", nil, 8, 8, 0},
		{"a changed reference rebuilds its two entries", func() {
			testutil.WriteFile(t, filepath.Join(dir, "control", "b_0.png"), datatest.PNG(t, datatest.Split(128, 64, datatest.Left, datatest.Left)))
		}, 8, 6, 2},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		ds := refDataset(t, dir)
		before := vae.calls.Load()
		st, err := BuildLatents(store, ds, vae, BuildOptions{BatchSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != s.total || st.Reused != s.reused || st.Built != s.encode || vae.calls.Load()-before != int64(s.encode) {
			t.Errorf("%s: %v (encoder called %d times), want %d total, %d reused, %d built", s.name, st, vae.calls.Load()-before, s.total, s.reused, s.encode)
		}
	}
	ds := refDataset(t, dir)
	variants, _ := ds.LatentVariants()
	for _, v := range variants {
		for j, r := range v.References {
			got, ok, err := store.Get(Latent, ReferenceKey(ds, v, j, vae.id))
			if err != nil || !ok {
				t.Fatalf("%s reference %d: missing (%v)", ds.Items[v.Item].Path, j, err)
			}
			px, err := ImagePixels(ds, []ImageRef{{v, j}})
			if err != nil {
				t.Fatal(err)
			}
			want := blockMean(px[0])
			if fmt.Sprint(want.Shape) != fmt.Sprint([]int{3, r.Bucket.Height / 16, r.Bucket.Width / 16}) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s reference %d (%v): cached %v, want %v", ds.Items[v.Item].Path, j, r.Bucket, got, want)
			}
		}
	}
}

// The key of a reference's latent changes with its content, size, crop and
// flip, and with nothing about its target.
func TestReferenceKey(t *testing.T) {
	ds := refDataset(t, t.TempDir())
	variants, _ := ds.LatentVariants()
	var b data.Sample
	for _, v := range variants {
		if filepath.Base(ds.Items[v.Item].Path) == "b.png" && !v.Flip {
			b = v
		}
	}
	base := ReferenceKey(ds, b, 0, "vae")
	withRef := func(f func(*data.Sample, *data.Dataset)) Key {
		d := *ds
		d.Items = append([]data.Item(nil), ds.Items...)
		it := &d.Items[b.Item]
		it.References = append([]data.Reference(nil), it.References...)
		s := b
		s.References = append([]data.SampleReference(nil), b.References...)
		f(&s, &d)
		return ReferenceKey(&d, s, 0, "vae")
	}
	tests := []struct {
		name   string
		change func(*data.Sample, *data.Dataset)
		same   bool
	}{
		{"nothing", func(*data.Sample, *data.Dataset) {}, true},
		{"the target's content", func(s *data.Sample, d *data.Dataset) { d.Items[s.Item].Hash = "other" }, true},
		{"the target's crop", func(s *data.Sample, d *data.Dataset) { s.Crop = image.Rect(0, 0, 1, 1) }, true},
		{"the reference's content", func(s *data.Sample, d *data.Dataset) { d.Items[s.Item].References[0].Hash = "other" }, false},
		{"the reference's size", func(s *data.Sample, d *data.Dataset) { s.References[0].Bucket = bucket.Bucket{Width: 64, Height: 64} }, false},
		{"the reference's crop", func(s *data.Sample, d *data.Dataset) { s.References[0].Crop = s.References[0].Crop.Add(image.Pt(1, 0)) }, false},
		{"the flip", func(s *data.Sample, d *data.Dataset) { s.Flip = true }, false},
	}
	for _, tc := range tests {
		if got := withRef(tc.change); (got == base) != tc.same {
			t.Errorf("changing %s: key changed = %v, want %v", tc.name, got != base, !tc.same)
		}
	}
	if ReferenceKey(ds, b, 0, "vae") == ReferenceKey(ds, b, 1, "vae") || ReferenceKey(ds, b, 0, "vae") == ReferenceKey(ds, b, 0, "vae@2") {
		t.Error("references 0 and 1, or two encoders, share a key")
	}
}
