package cache

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/flora-ml/flora/data"
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
// (data.Dataset.LatentVariants) is cached, encoding the missing ones in
// batches of one bucket.
func BuildLatents(s *Store, ds *data.Dataset, enc LatentEncoder, opts BuildOptions) (BuildStats, error) {
	variants, err := ds.LatentVariants()
	if err != nil {
		return BuildStats{}, err
	}
	id := enc.Identity()
	corrupt0 := s.Corrupt()
	st := BuildStats{Total: len(variants)}
	// Missing entries grouped by bucket, in variant order.
	type todo struct {
		s   data.Sample
		key Key
	}
	var order []data.BucketKey
	groups := map[data.BucketKey][]todo{}
	for _, v := range variants {
		key := LatentKey(ds, v, id)
		if _, ok, err := s.Get(Latent, key); err != nil {
			return st, err
		} else if ok {
			st.Reused++
			continue
		}
		bk := data.BucketKey{Resolution: v.Resolution, Bucket: v.Bucket}
		if _, seen := groups[bk]; !seen {
			order = append(order, bk)
		}
		groups[bk] = append(groups[bk], todo{v, key})
	}
	st.Corrupt = s.Corrupt() - corrupt0
	report(opts, st.Reused, st.Total)
	bs := max(1, opts.BatchSize)
	for _, bk := range order {
		g := groups[bk]
		for lo := 0; lo < len(g); lo += bs {
			batch := g[lo:min(lo+bs, len(g))]
			samples := make([]data.Sample, len(batch))
			for i, t := range batch {
				samples[i] = t.s
			}
			images, err := Pixels(ds, samples)
			if err != nil {
				return st, err
			}
			latents, err := enc.Encode(images)
			if err != nil {
				return st, fmt.Errorf("encoding latents of %s: %w", ds.Items[batch[0].s.Item].Path, err)
			}
			if len(latents) != len(batch) {
				return st, fmt.Errorf("latent encoder %s returned %d latents for %d images", id, len(latents), len(batch))
			}
			for i, t := range batch {
				it := ds.Items[t.s.Item]
				meta := map[string]string{"source": it.Path, "encoder": id, "bucket": t.s.Bucket.String(), "flip": fmt.Sprint(t.s.Flip)}
				if err := s.Put(Latent, t.key, latents[i], meta); err != nil {
					return st, fmt.Errorf("latent of %s: %w", it.Path, err)
				}
				st.Built++
			}
			report(opts, st.Reused+st.Built, st.Total)
		}
	}
	return st, nil
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
	out := make([]Tensor, len(samples))
	errs := make([]error, len(samples))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, smp := range samples {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			px, err := ds.Pixels(smp, nil)
			out[i] = Tensor{Shape: []int{3, smp.Bucket.Height, smp.Bucket.Width}, Data: px}
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
