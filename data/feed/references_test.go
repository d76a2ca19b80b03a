package feed

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

// setupRefs is setup for a control dataset: a.png (64x64) with the square
// reference a.png, b.png (96x64) with references b_0.png (128x64, wide)
// and b_1.png (64x64), c.png (64x64) with c.png; flips on.
func setupRefs(t *testing.T) (*data.Dataset, *data.Plan, *cache.Store) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"images/a.png":    datatest.PNG(t, datatest.Split(64, 64, datatest.Left, datatest.Right)),
		"images/b.png":    datatest.PNG(t, datatest.Split(96, 64, datatest.Right, datatest.Left)),
		"images/c.png":    datatest.PNG(t, datatest.Split(64, 64, datatest.Right, datatest.Right)),
		"control/a.png":   datatest.PNG(t, datatest.Split(64, 64, datatest.Right, datatest.Left)),
		"control/b_0.png": datatest.PNG(t, datatest.Split(128, 64, datatest.Left, datatest.Left)),
		"control/b_1.png": datatest.PNG(t, datatest.Pattern(64, 64)),
		"control/c.png":   datatest.PNG(t, datatest.Split(64, 64, datatest.Left, datatest.Left)),
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, b)
	}
	cfg := data.DefaultConfig()
	cfg.Folders = []data.Folder{{Path: filepath.Join(dir, "images"), Control: filepath.Join(dir, "control"), Repeats: 2, DefaultCaption: "x"}}
	cfg.MinSide, cfg.Resolutions, cfg.Flip = 16, []int{64}, true
	ds, problems, err := data.Scan(cfg)
	if err != nil || problems.Err() != nil || len(ds.Items) != 3 {
		t.Fatalf("scan: %v %v", err, problems)
	}
	plan, store := planAndStore(t, ds)
	return ds, plan, store
}

// wantReferences computes the reference latents of a batch independently:
// the planned references prepared and encoded directly.
func wantReferences(t *testing.T, ds *data.Dataset, plan *data.Plan, pos data.Position) [][]Reference {
	t.Helper()
	samples, err := plan.Batch(pos)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]Reference, len(samples))
	for i, s := range samples {
		for j := range s.References {
			px, err := cache.ImagePixels(ds, []cache.ImageRef{{Sample: s, Ref: j}})
			if err != nil {
				t.Fatal(err)
			}
			l := meanLatent(px[0])
			out[i] = append(out[i], Reference{Latent: l.Data, C: 2, H: l.Shape[1], W: l.Shape[2], Key: ds.Items[s.Item].References[j].Path})
		}
	}
	return out
}

// The source serves each sample's reference latents: exactly the cached
// entries, equal to encoding the prepared references, in order, with their
// own shapes; a batch's references stack.
func TestSourceReferences(t *testing.T) {
	ds, plan, store := setupRefs(t)
	src := filledSource(t, ds, plan, store)
	pos := data.Position{}
	shapes := map[string]bool{}
	for i := 0; i < 2*plan.BatchesPerEpoch(); i++ {
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		samples, _ := plan.Batch(pos)
		want := wantReferences(t, ds, plan, pos)
		for k, smp := range b {
			if !reflect.DeepEqual(smp.References, want[k]) {
				t.Fatalf("batch %d sample %d: references\n got %+v\nwant %+v", i, k, smp.References, want[k])
			}
			for j, r := range smp.References {
				cached, ok, err := store.Get(cache.Latent, cache.ReferenceKey(ds, samples[k], j, "mean-vae"))
				if err != nil || !ok || !reflect.DeepEqual(cached.Data, r.Latent) {
					t.Fatalf("batch %d sample %d reference %d: not the cached entry (%v %v)", i, k, j, ok, err)
				}
				if len(b[0].References) != len(smp.References) || b[0].References[j].H != r.H || b[0].References[j].W != r.W {
					t.Fatalf("batch %d: reference shapes do not stack", i)
				}
				shapes[fmt.Sprintf("%s:%dx%dx%d", filepath.Base(r.Key), r.C, r.H, r.W)] = true
			}
		}
		pos = plan.Next(pos)
	}
	// b_0.png (2:1) trains at 80x48 → [2, 3, 5]; the square ones at 64x64.
	for _, s := range []string{"a.png:2x4x4", "b_0.png:2x3x5", "b_1.png:2x4x4", "c.png:2x4x4"} {
		if !shapes[s] {
			t.Errorf("no reference served as %s (got %v)", s, shapes)
		}
	}
}

// A reference missing from the cache is named; with the VAE loaded it is
// encoded on the fly to the same latents.
func TestSourceReferenceMissing(t *testing.T) {
	ds, plan, store := setupRefs(t)
	if _, err := cache.BuildLatents(store, ds, &meanVAE{}, cache.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.BuildText(store, ds, &lenText{}, cache.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	variants, _ := ds.LatentVariants()
	for _, v := range variants {
		for j := range v.References {
			os.Remove(store.Path(cache.Latent, cache.ReferenceKey(ds, v, j, "mean-vae")))
		}
	}
	src, _ := New(ds, plan, store, ids())
	if _, err := src.Next(); err == nil || !strings.Contains(err.Error(), "control") || !strings.Contains(err.Error(), "is not in the cache") {
		t.Fatalf("reference not cached, no encoder: %v", err)
	}
	vae := &meanVAE{}
	opts := ids()
	opts.Latents = vae
	src, _ = New(ds, plan, store, opts)
	pos := data.Position{}
	for i := 0; i < plan.BatchesPerEpoch(); i++ {
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		want := wantReferences(t, ds, plan, pos)
		for k := range b {
			if !reflect.DeepEqual(b[k].References, want[k]) {
				t.Fatalf("batch %d sample %d: encoded references differ", i, k)
			}
		}
		pos = plan.Next(pos)
	}
	if vae.calls == 0 {
		t.Error("the latent encoder was not used for the missing references")
	}
}
