// Package feed connects the dataset to the trainer: Source serves the
// batches of a data.Plan as Samples — cached latents, the latents of their
// reference images and caption embeddings (data/cache) — with a position that checkpoints save and restore (it is a
// train.BatchSource).
package feed

import (
	"errors"
	"fmt"
	"image"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/cache"
)

// Options configure a Source.
type Options struct {
	// LatentIdentity and TextIdentity are the identities of the encoders
	// the cache was built with (LatentEncoder.Identity, TextEncoder.Identity).
	LatentIdentity, TextIdentity string
	// Latents, if set, encodes latents missing from the cache on the fly
	// (needed with random crops); its identity must be LatentIdentity.
	Latents cache.LatentEncoder
	// Text, if set, encodes caption embeddings missing from the cache on the
	// fly (needed with tag shuffling); its identity must be TextIdentity.
	Text cache.TextEncoder
	// PixelsPerLatent is the image pixels per latent token along each side
	// (vae.Config.PixelsPerLatent; 0 means 16, FLUX.2's): loss masks are
	// averaged over that many pixels per token.
	PixelsPerLatent int
}

// maxMaskEntries bounds the token weights a Source keeps in memory (a
// FLUX.2 1024² sample's are 16 KiB); past it the memo starts over.
const maxMaskEntries = 4096

// maskKey identifies a sample's token weights: its item placed the same
// way.
type maskKey struct {
	item int
	b    bucket.Bucket
	crop image.Rectangle
	flip bool
}

// Source serves training batches from the cache in the plan's order. It is
// not safe for concurrent use.
type Source struct {
	ds    *data.Dataset
	plan  *data.Plan
	store *cache.Store
	opts  Options
	pos   data.Position
	// masks memoises the samples' loss-mask token weights (computed from
	// the mask files when first served: cheap, and the latent cache stays
	// mask-free).
	masks map[maskKey][]float32
}

// New returns a Source at the start of the plan.
func New(ds *data.Dataset, plan *data.Plan, store *cache.Store, opts Options) (*Source, error) {
	if opts.LatentIdentity == "" || opts.TextIdentity == "" {
		return nil, errors.New("feed: the latent and text encoder identities are required (they key the cache)")
	}
	if opts.Latents != nil && opts.Latents.Identity() != opts.LatentIdentity {
		return nil, fmt.Errorf("feed: latent encoder is %q but the cache identity is %q", opts.Latents.Identity(), opts.LatentIdentity)
	}
	if opts.Text != nil && opts.Text.Identity() != opts.TextIdentity {
		return nil, fmt.Errorf("feed: text encoder is %q but the cache identity is %q", opts.Text.Identity(), opts.TextIdentity)
	}
	if opts.PixelsPerLatent < 0 {
		return nil, fmt.Errorf("feed: pixels per latent must be positive (0 = 16), got %d", opts.PixelsPerLatent)
	}
	return &Source{ds: ds, plan: plan, store: store, opts: opts, masks: map[maskKey][]float32{}}, nil
}

// Position is the position of the batch Next returns next.
func (s *Source) Position() data.Position { return s.pos }

// State serialises the position for checkpoints.
func (s *Source) State() ([]byte, error) { return s.pos.MarshalState() }

// Restore returns to a position produced by State.
func (s *Source) Restore(state []byte) error {
	pos, err := data.ParsePosition(state)
	if err != nil {
		return err
	}
	if _, err := s.plan.Batch(pos); err != nil {
		return fmt.Errorf("restoring the data position: %w (did the dataset change since the checkpoint?)", err)
	}
	s.pos = pos
	return nil
}

// Next returns the next batch. The position advances only on success, so
// after an error the same batch is attempted again.
func (s *Source) Next() ([]Sample, error) {
	samples, err := s.plan.Batch(s.pos)
	if err != nil {
		return nil, err
	}
	latents, err := s.latents(samples)
	if err != nil {
		return nil, err
	}
	embs, err := s.embeddings(samples)
	if err != nil {
		return nil, err
	}
	refs, err := s.references(samples)
	if err != nil {
		return nil, err
	}
	out := make([]Sample, len(samples))
	for i, smp := range samples {
		path := s.ds.Items[smp.Item].Path
		l, e := latents[i], embs[i]
		if len(l.Shape) != 3 || len(e.Shape) != 2 {
			return nil, fmt.Errorf("%s: latent shape %v (want [C, H, W]) or embedding shape %v (want [L, D])", path, l.Shape, e.Shape)
		}
		out[i] = Sample{
			Latent: l.Data, C: l.Shape[0], H: l.Shape[1], W: l.Shape[2],
			Embedding: e.Data, L: e.Shape[0], D: e.Shape[1],
			Key: path, References: refs[i],
			Weight: s.ds.Config.Folders[s.ds.Items[smp.Item].Folder].LossWeight(),
		}
		if out[i].Mask, err = s.mask(smp, out[i].H, out[i].W); err != nil {
			return nil, err
		}
		for _, r := range refs[i] {
			if r.C != l.Shape[0] {
				return nil, fmt.Errorf("%s: the latent of its reference %s has %d channels, the target's %d; rebuild the cache with one latent encoder", path, r.Key, r.C, l.Shape[0])
			}
		}
	}
	s.pos = s.plan.Next(s.pos)
	return out, nil
}

// mask returns the loss-mask token weights of a sample whose latent has
// h×w tokens (nil without a mask).
func (s *Source) mask(smp data.Sample, h, w int) ([]float32, error) {
	if s.ds.Items[smp.Item].Mask == nil {
		return nil, nil
	}
	k := maskKey{smp.Item, smp.Bucket, smp.Crop, smp.Flip}
	if m, ok := s.masks[k]; ok {
		return m, nil
	}
	per := s.opts.PixelsPerLatent
	if per == 0 {
		per = 16
	}
	if smp.Bucket.Width != w*per || smp.Bucket.Height != h*per {
		return nil, fmt.Errorf("%s: its %dx%d latent does not cover the %v bucket at %d pixels per latent; rebuild the cache or set the VAE's pixels per latent",
			s.ds.Items[smp.Item].Path, w, h, smp.Bucket, per)
	}
	m, err := s.ds.MaskWeights(smp, per)
	if err != nil {
		return nil, err
	}
	if len(s.masks) >= maxMaskEntries {
		clear(s.masks)
	}
	s.masks[k] = m
	return m, nil
}

// latents fetches the samples' latents, encoding misses when possible.
func (s *Source) latents(samples []data.Sample) ([]cache.Tensor, error) {
	f := fetch{
		kind: cache.Latent,
		key:  func(smp data.Sample) cache.Key { return cache.LatentKey(s.ds, smp, s.opts.LatentIdentity) },
		absent: func(smp data.Sample) error {
			return fmt.Errorf("the latent of %s (bucket %v, flip %v) is not in the cache %s; build the cache before training (or load the VAE to encode on the fly)",
				s.ds.Items[smp.Item].Path, smp.Bucket, smp.Flip, s.store.Dir())
		},
		encoder: "latent encoder", outputs: "latents", inputs: "images",
	}
	if s.opts.Latents != nil {
		f.encode = func(todo []data.Sample) ([]cache.Tensor, error) {
			images, err := cache.Pixels(s.ds, todo)
			if err != nil {
				return nil, err
			}
			enc, err := s.opts.Latents.Encode(images)
			if err != nil {
				return nil, fmt.Errorf("encoding latents: %w", err)
			}
			return enc, nil
		}
	}
	return f.run(s.store, samples)
}

// embeddings fetches the samples' caption embeddings, encoding misses when
// possible.
func (s *Source) embeddings(samples []data.Sample) ([]cache.Tensor, error) {
	f := fetch{
		kind: cache.Text,
		key:  func(smp data.Sample) cache.Key { return cache.TextKey(smp.Caption, s.opts.TextIdentity) },
		absent: func(smp data.Sample) error {
			return fmt.Errorf("the embedding of caption %q (%s) is not in the cache %s; build the cache before training (or keep the text encoder loaded, which tag shuffling needs)",
				smp.Caption, s.ds.Items[smp.Item].Path, s.store.Dir())
		},
		encoder: "text encoder", outputs: "embeddings", inputs: "captions",
	}
	if s.opts.Text != nil {
		f.encode = func(todo []data.Sample) ([]cache.Tensor, error) {
			captions := make([]string, len(todo))
			for j, smp := range todo {
				captions[j] = smp.Caption
			}
			enc, err := s.opts.Text.Encode(captions)
			if err != nil {
				return nil, fmt.Errorf("encoding captions: %w", err)
			}
			return enc, nil
		}
	}
	return f.run(s.store, samples)
}

// references fetches the latents of the samples' references (nil for a
// sample without), encoding misses when a latent encoder is loaded.
func (s *Source) references(samples []data.Sample) ([][]Reference, error) {
	out := make([][]Reference, len(samples))
	var images []cache.ImageRef
	for _, smp := range samples {
		for j := range smp.References {
			images = append(images, cache.ImageRef{Sample: smp, Ref: j})
		}
	}
	if len(images) == 0 {
		return out, nil
	}
	latents := make([]cache.Tensor, len(images))
	// Missing ones by size (the encoder takes images of one size).
	var order []bucket.Bucket
	missing := map[bucket.Bucket][]int{}
	for i, img := range images {
		t, ok, err := s.store.Get(cache.Latent, img.Key(s.ds, s.opts.LatentIdentity))
		if err != nil {
			return nil, err
		}
		if ok {
			latents[i] = t
			continue
		}
		if s.opts.Latents == nil {
			return nil, fmt.Errorf("the latent of %s (reference %d of %s, bucket %v, flip %v) is not in the cache %s; build the cache before training (or load the VAE to encode on the fly)",
				img.Path(s.ds), img.Ref, s.ds.Items[img.Sample.Item].Path, img.Bucket(), img.Sample.Flip, s.store.Dir())
		}
		b := img.Bucket()
		if _, seen := missing[b]; !seen {
			order = append(order, b)
		}
		missing[b] = append(missing[b], i)
	}
	for _, b := range order {
		idx := missing[b]
		todo := make([]cache.ImageRef, len(idx))
		for k, i := range idx {
			todo[k] = images[i]
		}
		px, err := cache.ImagePixels(s.ds, todo)
		if err != nil {
			return nil, err
		}
		enc, err := s.opts.Latents.Encode(px)
		if err != nil {
			return nil, fmt.Errorf("encoding reference latents: %w", err)
		}
		if len(enc) != len(idx) {
			return nil, fmt.Errorf("latent encoder returned %d latents for %d images", len(enc), len(idx))
		}
		for k, i := range idx {
			latents[i] = enc[k]
		}
	}
	k := 0
	for i, smp := range samples {
		for range smp.References {
			img, l := images[k], latents[k]
			if len(l.Shape) != 3 {
				return nil, fmt.Errorf("%s: reference latent shape %v, want [C, H, W]", img.Path(s.ds), l.Shape)
			}
			out[i] = append(out[i], Reference{Latent: l.Data, C: l.Shape[0], H: l.Shape[1], W: l.Shape[2], Key: img.Path(s.ds)})
			k++
		}
	}
	return out, nil
}
