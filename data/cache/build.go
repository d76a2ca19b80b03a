package cache

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/bucket"
)

// BuildOptions configure filling the cache.
type BuildOptions struct {
	// BatchSize is the number of images or captions per Encode call
	// (default 1).
	BatchSize int
	// Progress, if set, is called after each batch with the entries done
	// (found or built) and the total.
	Progress func(done, total int)
}

// BuildStats summarises a build.
type BuildStats struct {
	Total   int // entries the dataset needs
	Reused  int // found valid in the cache
	Built   int // encoded and written now
	Corrupt int // found corrupt and rebuilt
}

// String formats the stats for logs.
func (s BuildStats) String() string {
	return fmt.Sprintf("%d entries: %d reused, %d built (%d corrupt rebuilt)", s.Total, s.Reused, s.Built, s.Corrupt)
}

// BuildLatents makes sure the latent of every variant of the dataset
// (data.Dataset.LatentVariants) is cached, and the latent of each of its
// references (ReferenceKey; a reference shared by several variants is
// encoded once), encoding the missing ones in batches of one size. Stats
// count targets and references together.
func BuildLatents(s *Store, ds *data.Dataset, enc LatentEncoder, opts BuildOptions) (BuildStats, error) {
	variants, err := ds.LatentVariants()
	if err != nil {
		return BuildStats{}, err
	}
	id := enc.Identity()
	corrupt0 := s.Corrupt()
	// Every image to cache: each variant, then its references (ref >= 0).
	type todo struct {
		img ImageRef
		key Key
	}
	var all []todo
	seenRef := map[Key]bool{}
	for _, v := range variants {
		all = append(all, todo{ImageRef{v, -1}, LatentKey(ds, v, id)})
		seenRef[all[len(all)-1].key] = true
		for j := range v.References {
			k := ReferenceKey(ds, v, j, id)
			if !seenRef[k] {
				seenRef[k] = true
				all = append(all, todo{ImageRef{v, j}, k})
			}
		}
	}
	st := BuildStats{Total: len(all)}
	// Missing entries grouped by resolution and size, in order.
	var order []data.BucketKey
	groups := map[data.BucketKey][]todo{}
	for _, t := range all {
		if _, ok, err := s.Get(Latent, t.key); err != nil {
			return st, err
		} else if ok {
			st.Reused++
			continue
		}
		bk := data.BucketKey{Resolution: t.img.Sample.Resolution, Bucket: t.img.Bucket()}
		if _, seen := groups[bk]; !seen {
			order = append(order, bk)
		}
		groups[bk] = append(groups[bk], t)
	}
	st.Corrupt = s.Corrupt() - corrupt0
	report(opts, st.Reused, st.Total)
	bs := max(1, opts.BatchSize)
	for _, bk := range order {
		g := groups[bk]
		for lo := 0; lo < len(g); lo += bs {
			batch := g[lo:min(lo+bs, len(g))]
			refs := make([]ImageRef, len(batch))
			for i, t := range batch {
				refs[i] = t.img
			}
			images, err := ImagePixels(ds, refs)
			if err != nil {
				return st, err
			}
			latents, err := enc.Encode(images)
			if err != nil {
				return st, fmt.Errorf("encoding latents of %s: %w", refs[0].Path(ds), err)
			}
			if len(latents) != len(batch) {
				return st, fmt.Errorf("latent encoder %s returned %d latents for %d images", id, len(latents), len(batch))
			}
			for i, t := range batch {
				path := t.img.Path(ds)
				meta := map[string]string{"source": path, "encoder": id, "bucket": t.img.Bucket().String(), "flip": fmt.Sprint(t.img.Sample.Flip)}
				if t.img.Ref >= 0 {
					meta["reference_of"] = ds.Items[t.img.Sample.Item].Path
				}
				if err := s.Put(Latent, t.key, latents[i], meta); err != nil {
					return st, fmt.Errorf("latent of %s: %w", path, err)
				}
				st.Built++
			}
			report(opts, st.Reused+st.Built, st.Total)
		}
	}
	return st, nil
}

// ImageRef names one prepared image of a sample: its target (Ref < 0) or
// its reference number Ref.
type ImageRef struct {
	Sample data.Sample
	Ref    int
}

// Path is the image file.
func (r ImageRef) Path(ds *data.Dataset) string {
	if r.Ref < 0 {
		return ds.Items[r.Sample.Item].Path
	}
	return ds.Items[r.Sample.Item].References[r.Ref].Path
}

// Bucket is the size the image is prepared at.
func (r ImageRef) Bucket() bucket.Bucket {
	if r.Ref < 0 {
		return r.Sample.Bucket
	}
	return r.Sample.References[r.Ref].Bucket
}

// Key is the cache key of the image's latent.
func (r ImageRef) Key(ds *data.Dataset, encoder string) Key {
	if r.Ref < 0 {
		return LatentKey(ds, r.Sample, encoder)
	}
	return ReferenceKey(ds, r.Sample, r.Ref, encoder)
}

// BuildText makes sure the embedding of every caption variant of the
// dataset (data.Dataset.CaptionVariants) is cached.
func BuildText(s *Store, ds *data.Dataset, enc TextEncoder, opts BuildOptions) (BuildStats, error) {
	captions := ds.CaptionVariants()
	id := enc.Identity()
	corrupt0 := s.Corrupt()
	st := BuildStats{Total: len(captions)}
	var missing []string
	for _, c := range captions {
		if _, ok, err := s.Get(Text, TextKey(c, id)); err != nil {
			return st, err
		} else if ok {
			st.Reused++
		} else {
			missing = append(missing, c)
		}
	}
	st.Corrupt = s.Corrupt() - corrupt0
	report(opts, st.Reused, st.Total)
	bs := max(1, opts.BatchSize)
	for lo := 0; lo < len(missing); lo += bs {
		batch := missing[lo:min(lo+bs, len(missing))]
		embs, err := enc.Encode(batch)
		if err != nil {
			return st, fmt.Errorf("encoding caption %q: %w", batch[0], err)
		}
		if len(embs) != len(batch) {
			return st, fmt.Errorf("text encoder %s returned %d embeddings for %d captions", id, len(embs), len(batch))
		}
		for i, c := range batch {
			if err := s.Put(Text, TextKey(c, id), embs[i], map[string]string{"caption": c, "encoder": id}); err != nil {
				return st, fmt.Errorf("embedding of caption %q: %w", c, err)
			}
			st.Built++
		}
		report(opts, st.Reused+st.Built, st.Total)
	}
	return st, nil
}

func report(opts BuildOptions, done, total int) {
	if opts.Progress != nil {
		opts.Progress(done, total)
	}
}

// Pixels preprocesses the samples' images in parallel, as BuildLatents
// feeds them to the encoder: [3, H, W] tensors in [−1, 1].
func Pixels(ds *data.Dataset, samples []data.Sample) ([]Tensor, error) {
	refs := make([]ImageRef, len(samples))
	for i, smp := range samples {
		refs[i] = ImageRef{smp, -1}
	}
	return ImagePixels(ds, refs)
}

// ImagePixels is Pixels for targets and references: [3, H, W] tensors in
// [−1, 1], H×W the image's bucket.
func ImagePixels(ds *data.Dataset, images []ImageRef) ([]Tensor, error) {
	out := make([]Tensor, len(images))
	errs := make([]error, len(images))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, img := range images {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var px []float32
			var err error
			if img.Ref < 0 {
				px, err = ds.Pixels(img.Sample, nil)
			} else {
				px, err = ds.ReferencePixels(img.Sample, img.Ref, nil)
			}
			b := img.Bucket()
			out[i] = Tensor{Shape: []int{3, b.Height, b.Width}, Data: px}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
