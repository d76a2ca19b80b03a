package feed

import (
	"image/color"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

// meanVAE encodes an image [3, H, W] to a latent [2, H/16, W/16]: channel 0
// the mean of the image, channel 1 the mean of its left half minus the mean
// of its right half (which flips negate).
type meanVAE struct{ calls int }

func (e *meanVAE) Identity() string { return "mean-vae" }

func (e *meanVAE) Encode(images []cache.Tensor) ([]cache.Tensor, error) {
	e.calls += len(images)
	out := make([]cache.Tensor, len(images))
	for i, img := range images {
		out[i] = meanLatent(img)
	}
	return out, nil
}

func meanLatent(img cache.Tensor) cache.Tensor {
	h, w := img.Shape[1], img.Shape[2]
	var all, diff float32
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := img.Data[c*h*w+y*w+x]
				all += v
				if x < w/2 {
					diff += v
				} else {
					diff -= v
				}
			}
		}
	}
	n := float32(3 * h * w)
	lh, lw := h/16, w/16
	t := cache.Tensor{Shape: []int{2, lh, lw}, Data: make([]float32, 2*lh*lw)}
	for i := 0; i < lh*lw; i++ {
		t.Data[i], t.Data[lh*lw+i] = all/n, diff/n
	}
	return t
}

// lenText encodes a caption to [1, 2]: its length and first byte.
type lenText struct{ calls int }

func (e *lenText) Identity() string { return "len-text" }

func (e *lenText) Encode(captions []string) ([]cache.Tensor, error) {
	e.calls += len(captions)
	out := make([]cache.Tensor, len(captions))
	for i, c := range captions {
		out[i] = lenEmbedding(c)
	}
	return out, nil
}

func lenEmbedding(c string) cache.Tensor {
	first := float32(0)
	if c != "" {
		first = float32(c[0])
	}
	return cache.Tensor{Shape: []int{1, 2}, Data: []float32{float32(len(c)), first}}
}

func setup(t *testing.T, mutate func(*data.Config)) (*data.Dataset, *data.Plan, *cache.Store) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"a.png": datatest.PNG(t, datatest.Split(64, 64, datatest.Left, datatest.Right)),
		"a.txt": []byte("an a"),
		"b.png": datatest.PNG(t, datatest.Split(96, 64, datatest.Right, datatest.Left)),
		"b.txt": []byte("bee, wings, stripes"),
		"c.png": datatest.PNG(t, datatest.Split(64, 64, datatest.Right, datatest.Right)),
	}
	for name, b := range files {
		testutil.WriteFile(t, filepath.Join(dir, name), b)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: dir, Repeats: 2}}
	cfg.MinSide, cfg.Resolutions, cfg.CaptionDropout, cfg.Trigger, cfg.Flip = 16, []int{64}, 0.2, "flora", true
	if mutate != nil {
		mutate(&cfg)
	}
	ds, problems, err := data.Scan(cfg)
	if err != nil || problems.Err() != nil {
		t.Fatalf("scan: %v %v", err, problems)
	}
	plan, store := planAndStore(t, ds)
	return ds, plan, store
}

func ids() Options { return Options{LatentIdentity: "mean-vae", TextIdentity: "len-text"} }

// expected computes a batch independently: the plan's samples, preprocessed
// and encoded directly.
func expected(t *testing.T, ds *data.Dataset, plan *data.Plan, pos data.Position) []Sample {
	t.Helper()
	samples, err := plan.Batch(pos)
	if err != nil {
		t.Fatal(err)
	}
	px, err := cache.Pixels(ds, samples)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Sample, len(samples))
	for i, s := range samples {
		l, e := meanLatent(px[i]), lenEmbedding(s.Caption)
		out[i] = Sample{Latent: l.Data, C: 2, H: l.Shape[1], W: l.Shape[2], Embedding: e.Data, L: 1, D: 2, Key: ds.Items[s.Item].Path,
			Weight: ds.Config.Folders[ds.Items[s.Item].Folder].LossWeight()}
	}
	return out
}

func TestSourceFromCache(t *testing.T) {
	ds, plan, store := setup(t, nil)
	src := filledSource(t, ds, plan, store)
	var got [][]Sample
	var states [][]byte
	pos := data.Position{}
	flips := map[bool]bool{}
	for i := 0; i < 3*plan.BatchesPerEpoch(); i++ {
		st, _ := src.State()
		states = append(states, st)
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if want := expected(t, ds, plan, pos); !reflect.DeepEqual(b, want) {
			t.Fatalf("batch %d at %v:\n got %+v\nwant %+v", i, pos, b, want)
		}
		samples, _ := plan.Batch(pos)
		for _, s := range samples {
			flips[s.Flip] = true
		}
		got = append(got, b)
		pos = plan.Next(pos)
	}
	if !flips[true] || !flips[false] {
		t.Error("flipped and unflipped samples were not both served")
	}
	// Restore a saved state into a fresh source: the same batches follow.
	k := plan.BatchesPerEpoch() + 1
	src2, _ := New(ds, plan, store, ids())
	if err := src2.Restore(states[k]); err != nil {
		t.Fatal(err)
	}
	for i := k; i < len(got); i++ {
		b, err := src2.Next()
		if err != nil || !reflect.DeepEqual(b, got[i]) {
			t.Fatalf("restored batch %d differs (%v)", i, err)
		}
	}
	for _, bad := range []string{"{", `{"epoch":0,"index":9999}`} {
		if err := src2.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%s): want error", bad)
		}
	}
}

func TestSourceMissingEntries(t *testing.T) {
	// Random crops and shuffled tags cannot be cached: the encoders run live.
	ds, plan, store := setup(t, func(c *data.Config) { c.Crop = data.CropRandom; c.ShuffleTags = true })
	src, _ := New(ds, plan, store, ids())
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "not in the cache") {
		t.Fatalf("no cache, no encoder: %v", err)
	}
	if src.Position() != (data.Position{}) {
		t.Error("position advanced after an error")
	}
	vae, te := &meanVAE{}, &lenText{}
	opts := ids()
	opts.Latents, opts.Text = vae, te
	src, err := New(ds, plan, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	pos := data.Position{}
	for i := 0; i < plan.BatchesPerEpoch(); i++ {
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if want := expected(t, ds, plan, pos); !reflect.DeepEqual(b, want) {
			t.Fatalf("batch %d differs", i)
		}
		pos = plan.Next(pos)
	}
	if vae.calls == 0 || te.calls == 0 {
		t.Errorf("encoders not used: %d %d", vae.calls, te.calls)
	}
	// Identity mismatch and missing identities are refused.
	opts.LatentIdentity = "other"
	if _, err := New(ds, plan, store, opts); err == nil {
		t.Error("identity mismatch: want error")
	}
	if _, err := New(ds, plan, store, Options{}); err == nil {
		t.Error("no identities: want error")
	}
}

// TestSourceMasks: a sample whose image has a mask carries its token
// weights (the mask's left half inside: token columns 1, 1, mask_min,
// mask_min, mirrored when the sample is flipped); the others carry none.
func TestSourceMasks(t *testing.T) {
	masks := t.TempDir()
	testutil.WriteFile(t, filepath.Join(masks, "a.png"), datatest.PNG(t, datatest.Split(64, 64, color.NRGBA{255, 255, 255, 255}, color.NRGBA{0, 0, 0, 255})))
	ds, plan, store := setup(t, func(c *data.Config) { c.Folders[0].Masks, c.MaskMin = masks, 0.25 })
	src := filledSource(t, ds, plan, store)
	row := []float32{1, 1, 0.25, 0.25}
	seen := map[bool]bool{}
	pos := data.Position{}
	for range 2 * plan.BatchesPerEpoch() {
		smps, _ := plan.Batch(pos)
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range b {
			if filepath.Base(s.Key) != "a.png" {
				if s.Mask != nil {
					t.Errorf("%s: mask %v, want none", s.Key, s.Mask)
				}
				continue
			}
			want := slices.Repeat(row, 4)
			if smps[i].Flip {
				want = slices.Repeat([]float32{0.25, 0.25, 1, 1}, 4)
			}
			seen[smps[i].Flip] = true
			if !slices.Equal(s.Mask, want) {
				t.Errorf("%s (flip %v): mask %v, want %v", s.Key, smps[i].Flip, s.Mask, want)
			}
		}
		pos = plan.Next(pos)
	}
	if !seen[false] || !seen[true] {
		t.Errorf("a.png served with flips %v; want both", seen)
	}
	if _, err := New(ds, plan, store, Options{LatentIdentity: "x", TextIdentity: "y", PixelsPerLatent: -1}); err == nil {
		t.Error("negative pixels per latent accepted")
	}
}

// filledSource fills the store with the test encoders' latents and caption
// embeddings of ds and serves plan from it.
func filledSource(t *testing.T, ds *data.Dataset, plan *data.Plan, store *cache.Store) *Source {
	t.Helper()
	if _, err := cache.BuildLatents(store, ds, &meanVAE{}, cache.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.BuildText(store, ds, &lenText{}, cache.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	src, err := New(ds, plan, store, ids())
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// planAndStore is ds's plan (seed 11, batch 2) and an empty cache store.
func planAndStore(t *testing.T, ds *data.Dataset) (*data.Plan, *cache.Store) {
	t.Helper()
	plan, err := data.NewPlan(ds, data.PlanOptions{Seed: 11, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return plan, store
}
