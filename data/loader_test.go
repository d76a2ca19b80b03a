package data

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data/datatest"
)

// loaderDataset writes n images (64x64 halves in distinct colours, and one
// 96x64) and scans them at resolution 64.
func loaderDataset(t *testing.T, n int, mutate func(*Config)) *Dataset {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := 0; i < n; i++ {
		l := color.NRGBA{uint8(20 * i), 100, 200, 255}
		files[fmt.Sprintf("img%d.png", i)] = datatest.PNG(t, datatest.Split(64, 64, l, datatest.Right))
		files[fmt.Sprintf("img%d.txt", i)] = []byte(fmt.Sprintf("image %d", i))
	}
	files["wide.png"] = datatest.PNG(t, datatest.Split(96, 64, datatest.Left, datatest.Right))
	writeFiles(t, dir, files)
	cfg := DefaultConfig()
	cfg.Folders = []Folder{{Path: dir, DefaultCaption: "wide"}}
	cfg.MinSide, cfg.Resolutions, cfg.CaptionDropout = 16, []int{64}, 0
	if mutate != nil {
		mutate(&cfg)
	}
	ds, problems, err := Scan(cfg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("scan: %v %v", err, problems)
	}
	return ds
}

func TestLoaderFollowsPlan(t *testing.T) {
	ds := loaderDataset(t, 5, func(c *Config) { c.Flip = true; c.Crop = CropRandom })
	plan, err := NewPlan(ds, PlanOptions{Seed: 3, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(ds, plan, Position{}, LoaderOptions{Workers: 2, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []*Batch
	pos := Position{}
	for i := 0; i < 2*plan.BatchesPerEpoch()+1; i++ {
		if l.Position() != pos {
			t.Fatalf("Position = %v, want %v", l.Position(), pos)
		}
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := plan.Batch(pos)
		if b.Position != pos || !reflect.DeepEqual(b.Samples, want) {
			t.Fatalf("batch %d at %v: samples differ from the plan", i, pos)
		}
		for j, s := range b.Samples {
			px, err := ds.Pixels(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(px, b.Pixels[j]) || len(px) != 3*s.Bucket.Width*s.Bucket.Height || b.Paths[j] != ds.Items[s.Item].Path {
				t.Fatalf("batch %d sample %d: pixels or path differ", i, j)
			}
		}
		got = append(got, b)
		pos = plan.Next(pos)
	}
	// Resume from a saved position in a new loader: the same batches follow.
	k := plan.BatchesPerEpoch() - 1
	state, _ := got[k].Position.MarshalState()
	restored, err := ParsePosition(state)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := NewLoader(ds, plan, restored, LoaderOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	for i := k; i < len(got); i++ {
		b, err := l2.Next()
		if err != nil || !reflect.DeepEqual(b, got[i]) {
			t.Fatalf("resumed batch %d differs (%v)", i, err)
		}
	}
	// Seek back.
	if err := l.Seek(Position{0, 1}); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Next(); err != nil || !reflect.DeepEqual(b, got[1]) {
		t.Fatalf("after Seek: %v", err)
	}
	if err := l.Seek(Position{0, 999}); err == nil {
		t.Error("Seek outside the epoch: want error")
	}
}

// Pixels of a 64x64 image in its 64x64 bucket are exact, mirrored by Flip.
func TestPixels(t *testing.T) {
	ds := loaderDataset(t, 1, nil)
	var it int
	for i := range ds.Items {
		if strings.HasSuffix(ds.Items[i].Path, "img0.png") {
			it = i
		}
	}
	a := ds.Items[it].Assignments[0]
	f := func(v uint8) float32 { return float32(v)/127.5 - 1 }
	left := color.NRGBA{0, 100, 200, 255}
	for _, flip := range []bool{false, true} {
		s := Sample{Item: it, Resolution: 64, Bucket: a.Bucket, Crop: ds.Items[it].Assignments[0].Bucket.Rect(), Flip: flip}
		px, err := ds.Pixels(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, r := left, datatest.Right
		if flip {
			l, r = r, l
		}
		const n = 64 * 64
		for c, pair := range [][2]uint8{{l.R, r.R}, {l.G, r.G}, {l.B, r.B}} {
			if px[c*n+10*64+5] != f(pair[0]) || px[c*n+10*64+60] != f(pair[1]) {
				t.Errorf("flip %v channel %d: %v %v, want %v %v", flip, c, px[c*n+10*64+5], px[c*n+10*64+60], f(pair[0]), f(pair[1]))
			}
		}
	}
	if _, err := ds.Pixels(Sample{Item: 99}, nil); err == nil {
		t.Error("bad item: want error")
	}
}

func TestLoaderErrors(t *testing.T) {
	ds := loaderDataset(t, 3, nil)
	plan, err := NewPlan(ds, PlanOptions{Seed: 1, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	gone := ds.Items[0].Path
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(ds, plan, Position{}, LoaderOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	failures, ok := 0, 0
	for i := 0; i < plan.BatchesPerEpoch(); i++ {
		_, err := l.Next()
		switch {
		case err == nil:
			ok++
		case strings.Contains(err.Error(), gone):
			failures++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if failures != 1 || ok != plan.BatchesPerEpoch()-1 {
		t.Errorf("%d failures, %d ok", failures, ok)
	}
	l.Close()
	l.Close()
	if _, err := l.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if _, err := NewLoader(ds, plan, Position{0, 99}, LoaderOptions{}); err == nil {
		t.Error("start outside the epoch: want error")
	}
}

// writeFile writes data to dir/name, creating folders.
func writeFile(dir, name string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}
