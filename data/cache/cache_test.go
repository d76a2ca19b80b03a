package cache

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights"
)

// blockMeanVAE is a stand-in latent encoder: the mean of every 16×16 block
// of every channel, shape [3, H/16, W/16].
type blockMeanVAE struct {
	id    string
	calls atomic.Int64
	fail  bool
}

func (e *blockMeanVAE) Identity() string { return e.id }

func (e *blockMeanVAE) Encode(images []Tensor) ([]Tensor, error) {
	e.calls.Add(int64(len(images)))
	if e.fail {
		return images[:0], nil
	}
	out := make([]Tensor, len(images))
	for i, img := range images {
		out[i] = blockMean(img)
	}
	return out, nil
}

func blockMean(img Tensor) Tensor {
	c, h, w := img.Shape[0], img.Shape[1], img.Shape[2]
	lh, lw := h/16, w/16
	t := Tensor{Shape: []int{c, lh, lw}, Data: make([]float32, c*lh*lw)}
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				t.Data[ch*lh*lw+(y/16)*lw+x/16] += img.Data[ch*h*w+y*w+x] / 256
			}
		}
	}
	return t
}

// byteText is a stand-in text encoder: the caption's bytes (padded to 8)
// as a [8, 2] embedding (byte, position).
type byteText struct {
	id    string
	calls atomic.Int64
}

func (e *byteText) Identity() string { return e.id }

func (e *byteText) Encode(captions []string) ([]Tensor, error) {
	e.calls.Add(int64(len(captions)))
	out := make([]Tensor, len(captions))
	for i, c := range captions {
		out[i] = textEmbedding(c)
	}
	return out, nil
}

func textEmbedding(c string) Tensor {
	t := Tensor{Shape: []int{8, 2}, Data: make([]float32, 16)}
	for j := 0; j < 8; j++ {
		if j < len(c) {
			t.Data[2*j] = float32(c[j])
		}
		t.Data[2*j+1] = float32(j)
	}
	return t
}

// testDataset writes three images (two 64x64, one 96x64) and scans them at
// resolution 64 with the given config changes.
func testDataset(t *testing.T, dir string, mutate func(*data.Config)) *data.Dataset {
	t.Helper()
	files := map[string][]byte{
		"a.png": datatest.PNG(t, datatest.Split(64, 64, datatest.Left, datatest.Right)),
		"a.txt": []byte("an a"),
		"b.png": datatest.PNG(t, datatest.Split(64, 64, datatest.Right, color.NRGBA{10, 20, 30, 128})),
		"b.txt": []byte("a b"),
		"c.png": datatest.PNG(t, datatest.Split(96, 64, datatest.Left, datatest.Left)),
	}
	for name, b := range files {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			continue // keep files a test rewrote
		}
		testutil.WriteFile(t, filepath.Join(dir, name), b)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: dir}}
	cfg.MinSide, cfg.Resolutions, cfg.CaptionDropout, cfg.Trigger = 16, []int{64}, 0.1, "flora"
	if mutate != nil {
		mutate(&cfg)
	}
	ds, problems, err := data.Scan(cfg)
	if err != nil || problems.Err() != nil {
		t.Fatalf("scan: %v %v", err, problems)
	}
	return ds
}

func TestBuildReuseAndInvalidation(t *testing.T) {
	imgDir, cacheDir := t.TempDir(), t.TempDir()
	store, err := Open(cacheDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vae := &blockMeanVAE{id: "vae@1"}
	build := func(ds *data.Dataset, enc LatentEncoder) BuildStats {
		t.Helper()
		st, err := BuildLatents(store, ds, enc, BuildOptions{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	ds := testDataset(t, imgDir, nil)
	steps := []struct {
		name          string
		ds            *data.Dataset
		enc           *blockMeanVAE
		total, reused int
	}{
		{"first build", ds, vae, 3, 0},
		{"second build reuses all", ds, vae, 3, 3},
		{"new encoder identity rebuilds all", ds, &blockMeanVAE{id: "vae@2"}, 3, 0},
		{"flip adds the mirrored variants", testDataset(t, imgDir, func(c *data.Config) { c.Flip = true }), vae, 6, 3},
		{"background changes every key", testDataset(t, imgDir, func(c *data.Config) { c.Background = "black" }), vae, 3, 0},
		{"caption changes do not touch latents", testDataset(t, imgDir, func(c *data.Config) { c.Trigger = "other"; c.DefaultCaption = "x" }), vae, 3, 3},
	}
	for _, s := range steps {
		before := s.enc.calls.Load()
		st := build(s.ds, s.enc)
		if st.Total != s.total || st.Reused != s.reused || st.Built != s.total-s.reused || s.enc.calls.Load()-before != int64(st.Built) {
			t.Errorf("%s: %v (encoder called %d times), want %d total, %d reused", s.name, st, s.enc.calls.Load()-before, s.total, s.reused)
		}
	}
	// Changing one image's content rebuilds only its latent.
	testutil.WriteFile(t, filepath.Join(imgDir, "a.png"), datatest.PNG(t, datatest.Split(64, 64, datatest.Right, datatest.Right)))
	if st := build(testDataset(t, imgDir, nil), vae); st.Reused != 2 || st.Built != 1 {
		t.Errorf("after changing a.png: %v, want 2 reused, 1 built", st)
	}
	// Cached values are the encoder's output for the preprocessed image.
	ds = testDataset(t, imgDir, nil)
	variants, _ := ds.LatentVariants()
	for _, v := range variants {
		got, ok, err := store.Get(Latent, LatentKey(ds, v, vae.id))
		if err != nil || !ok {
			t.Fatalf("%v: missing (%v)", v, err)
		}
		px, err := Pixels(ds, []data.Sample{v})
		if err != nil {
			t.Fatal(err)
		}
		want := blockMean(px[0])
		if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
			t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
		}
		for i := range want.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("value %d: %v, want %v", i, got.Data[i], want.Data[i])
			}
		}
	}
	assertNoTempFiles(t, cacheDir)
}

func TestBuildText(t *testing.T) {
	store, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ds := testDataset(t, t.TempDir(), nil)
	enc := &byteText{id: TextIdentity("bytes", []int{9, 18, 27}, 8)}
	st, err := BuildText(store, ds, enc, BuildOptions{BatchSize: 2})
	// Captions: "flora, an a", "flora, a b", "flora" (c.png, no caption) and "" (dropout).
	if err != nil || st.Total != 4 || st.Built != 4 {
		t.Fatalf("%v %v", st, err)
	}
	if st, _ := BuildText(store, ds, enc, BuildOptions{}); st.Reused != 4 || enc.calls.Load() != 4 {
		t.Errorf("rebuild: %v, %d encoder calls", st, enc.calls.Load())
	}
	for _, c := range []string{"", "flora", "flora, an a", "flora, a b"} {
		got, ok, err := store.Get(Text, TextKey(c, enc.id))
		if err != nil || !ok || fmt.Sprint(got) != fmt.Sprint(textEmbedding(c)) {
			t.Errorf("caption %q: %v %v %v", c, got, ok, err)
		}
	}
	// Another layer set is another identity: everything is rebuilt.
	enc2 := &byteText{id: TextIdentity("bytes", []int{10, 20, 30}, 8)}
	if st, _ := BuildText(store, ds, enc2, BuildOptions{}); st.Built != 4 {
		t.Errorf("other layers: %v", st)
	}
}

func TestCorruptEntriesAreRebuilt(t *testing.T) {
	cacheDir := t.TempDir()
	store, _ := Open(cacheDir, Options{})
	ds := testDataset(t, t.TempDir(), nil)
	vae := &blockMeanVAE{id: "vae"}
	if _, err := BuildLatents(store, ds, vae, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	variants, _ := ds.LatentVariants()
	paths := []string{}
	for _, v := range variants {
		paths = append(paths, store.Path(Latent, LatentKey(ds, v, vae.id)))
	}
	// Damage: a truncated entry, a garbage entry, and a valid entry copied
	// under another key (a file must hold the key it is named by).
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	wrong := store.Path(Latent, Key(strings.Repeat("ab", 32)))
	for path, content := range map[string][]byte{paths[0]: b[:len(b)/2], paths[1]: []byte("not safetensors"), wrong: b} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, path, content)
	}
	st, err := BuildLatents(store, ds, vae, BuildOptions{})
	if err != nil || st.Corrupt != 2 || st.Built != 2 || st.Reused != 1 {
		t.Errorf("%v %v, want 2 corrupt rebuilt, 1 reused", st, err)
	}
	if _, ok, _ := store.Get(Latent, Key(strings.Repeat("ab", 32))); ok {
		t.Error("entry under the wrong key was accepted")
	}
	if st, _ := BuildLatents(store, ds, vae, BuildOptions{}); st.Reused != 3 {
		t.Errorf("after rebuild: %v", st)
	}
}

func TestStoreDTypes(t *testing.T) {
	key := TextKey("x", "y")
	val := Tensor{Shape: []int{2, 3}, Data: []float32{1, -2.5, 3.14159, 1e-3, 65504, -0}}
	for _, tc := range []struct {
		dt  weights.DType
		tol float64 // relative
	}{{weights.F32, 0}, {weights.BF16, 1.0 / 128}} {
		s, err := Open(t.TempDir(), Options{DType: tc.dt})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(Text, key, val, map[string]string{"key": "ignored", "note": "n"}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Get(Text, key)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", tc.dt, ok, err)
		}
		for i, v := range val.Data {
			if d := math.Abs(float64(got.Data[i] - v)); d > tc.tol*math.Abs(float64(v)) {
				t.Errorf("%s: value %d = %v, want %v", tc.dt, i, got.Data[i], v)
			}
		}
		f, err := weights.Open(s.Path(Text, key))
		if err != nil {
			t.Fatal(err)
		}
		if m := f.Metadata(); m["key"] != string(key) || m["note"] != "n" || m["kind"] != "text" {
			t.Errorf("metadata %v", m)
		}
		f.Close()
	}
	if _, err := Open(t.TempDir(), Options{DType: weights.I8}); err == nil {
		t.Error("I8 store: want error")
	}
}

func TestStoreRejects(t *testing.T) {
	s, _ := Open(t.TempDir(), Options{})
	good := TextKey("a", "b")
	tests := []struct {
		name string
		key  Key
		val  Tensor
	}{
		{"path traversal key", Key("../../etc/passwd"), Tensor{Shape: []int{1}, Data: []float32{1}}},
		{"short key", Key("abc"), Tensor{Shape: []int{1}, Data: []float32{1}}},
		{"no shape", good, Tensor{Data: []float32{1}}},
		{"shape mismatch", good, Tensor{Shape: []int{2, 2}, Data: []float32{1}}},
		{"zero dim", good, Tensor{Shape: []int{0}, Data: nil}},
	}
	for _, tc := range tests {
		if err := s.Put(Text, tc.key, tc.val, nil); err == nil {
			t.Errorf("%s: Put accepted", tc.name)
		}
	}
	if _, _, err := s.Get(Text, Key("../x")); err == nil {
		t.Error("Get with a bad key: want error")
	}
	ds := testDataset(t, t.TempDir(), nil)
	if _, err := BuildLatents(s, ds, &blockMeanVAE{id: "v", fail: true}, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "returned 0 latents") {
		t.Errorf("encoder returning too few latents: %v", err)
	}
	if _, err := BuildLatents(s, testDataset(t, t.TempDir(), func(c *data.Config) { c.Crop = data.CropRandom }), &blockMeanVAE{id: "v"}, BuildOptions{}); err == nil {
		t.Error("random crop: want error")
	}
}

// Every key part changes the key.
func TestKeys(t *testing.T) {
	ds := testDataset(t, t.TempDir(), nil)
	vs, _ := ds.LatentVariants()
	base := vs[0]
	k0 := LatentKey(ds, base, "e")
	variants := map[string]func() Key{
		"encoder": func() Key { return LatentKey(ds, base, "f") },
		"item":    func() Key { s := base; s.Item = 1; return LatentKey(ds, s, "e") },
		"bucket":  func() Key { s := base; s.Bucket.Width += 16; return LatentKey(ds, s, "e") },
		"crop":    func() Key { s := base; s.Crop.Min.X++; return LatentKey(ds, s, "e") },
		"flip":    func() Key { s := base; s.Flip = true; return LatentKey(ds, s, "e") },
	}
	for name, f := range variants {
		if f() == k0 {
			t.Errorf("changing %s keeps the key", name)
		}
	}
	if LatentKey(ds, base, "e") != k0 || !k0.valid() {
		t.Error("key not deterministic or not valid")
	}
	if TextKey("a", "b") == TextKey("a", "c") || TextKey("a", "b") == TextKey("ab", "") || TextKey("a|b", "") == TextKey("a", "|b") {
		t.Error("text keys collide")
	}
	if got := TextIdentity("qwen3-4b@sha256:00", []int{9, 18, 27}, 512); got != "qwen3-4b@sha256:00|layers=9,18,27|max_len=512" {
		t.Errorf("TextIdentity = %q", got)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
