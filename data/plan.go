package data

import (
	"encoding/json"
	"fmt"
	"image"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/flora-ml/flora/data/bucket"
)

// Position is a place in the endless sequence of batches: batch Index of
// epoch Epoch. It is all a checkpoint needs to resume the data order,
// because everything random about a batch is derived from the plan's seed,
// the epoch and the sample's place in it.
type Position struct {
	Epoch int `json:"epoch"`
	Index int `json:"index"`
}

// String formats the position as "epoch E batch I".
func (p Position) String() string { return fmt.Sprintf("epoch %d batch %d", p.Epoch, p.Index) }

// MarshalState and ParsePosition round-trip a position as JSON (the form
// checkpoints store).
func (p Position) MarshalState() ([]byte, error) { return json.Marshal(p) }

// ParsePosition parses a position written by MarshalState.
func ParsePosition(b []byte) (Position, error) {
	var p Position
	if err := json.Unmarshal(b, &p); err != nil {
		return Position{}, fmt.Errorf("data position: %w", err)
	}
	if p.Epoch < 0 || p.Index < 0 {
		return Position{}, fmt.Errorf("data position: negative epoch or index in %s", b)
	}
	return p, nil
}

// Sample is one planned training example: which image, in which bucket,
// the crop, the flip and the caption text.
type Sample struct {
	// Item indexes Dataset.Items.
	Item       int
	Resolution int
	Bucket     bucket.Bucket
	// Crop is the rectangle of the image (displayed orientation) that is
	// resized to the bucket size.
	Crop image.Rectangle
	Flip bool
	// Caption is the text to train on (trigger, dropout, shuffling applied).
	Caption string
	// References prepare the item's reference images, in order (nil
	// without references). Each is flipped when the target is (Flip).
	References []SampleReference
}

// SampleReference is how one reference image of a sample is prepared: the
// rectangle Crop of the reference (displayed orientation) resized to
// Bucket, its ReferenceBucket. The crop is taken at the target's crop
// offset, so a before/after pair of one shape stays aligned.
type SampleReference struct {
	Bucket bucket.Bucket
	Crop   image.Rectangle
}

// sampleReferences places an item's references for one assignment at a
// crop offset.
func sampleReferences(it *Item, as Assignment, offset float64) []SampleReference {
	if len(it.References) == 0 {
		return nil
	}
	out := make([]SampleReference, len(it.References))
	for j, r := range it.References {
		out[j] = SampleReference{Bucket: as.References[j], Crop: bucket.CropRect(r.Width, r.Height, as.References[j], offset)}
	}
	return out
}

// referenceSignature names the reference sizes of an assignment ("" for
// none): samples batch together only when it is equal.
func referenceSignature(as Assignment) string {
	parts := make([]string, len(as.References))
	for i, b := range as.References {
		parts[i] = b.String()
	}
	return strings.Join(parts, ",")
}

// PlanOptions configure the batch order.
type PlanOptions struct {
	// Seed fixes the order and every random choice.
	Seed uint64
	// BatchSize is the number of samples per batch (all of one bucket).
	BatchSize int
	// DropLast drops each bucket's last, incomplete batch of an epoch;
	// otherwise it is kept, smaller.
	DropLast bool
}

// Plan is the deterministic order of batches over endless epochs. Each
// epoch holds every (item, resolution, repeat) sample once: samples are
// shuffled within their bucket, cut into batches, and the batches of all
// buckets shuffled. With references, a bucket is split by the sizes of the
// samples' references (Assignment.References), so every batch stacks. It is safe for concurrent use.
type Plan struct {
	ds   *Dataset
	opts PlanOptions
	// groups are the samples of each bucket in canonical order.
	groups [][]planEntry
	perEp  int

	mu     sync.Mutex
	orders map[int][][]planEntry // batches of the (at most two) latest epochs asked for
}

// planEntry is a sample before randomisation: an item at one resolution,
// one of its repeats; id is its place in the canonical order.
type planEntry struct {
	id     int
	item   int
	assign int
}

// NewPlan builds the plan of a dataset. It fails when the dataset has no
// items or (with DropLast) no bucket fills a batch.
func NewPlan(ds *Dataset, opts PlanOptions) (*Plan, error) {
	if opts.BatchSize < 1 || opts.BatchSize > 4096 {
		return nil, fmt.Errorf("batch size must be in [1, 4096], got %d", opts.BatchSize)
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("the dataset has no usable images (run `flora data check` on its folders)")
	}
	p := &Plan{ds: ds, opts: opts, orders: map[int][][]planEntry{}}
	// A group is a bucket and the sizes of the references, so a batch's
	// targets and references stack; without references, one per bucket.
	type groupKey struct {
		BucketKey
		refs string
	}
	byKey := map[groupKey][]planEntry{}
	sigs := map[BucketKey][]string{} // reference signatures of a bucket, first seen first
	id := 0
	for i, it := range ds.Items {
		for a, as := range it.Assignments {
			k := groupKey{BucketKey{as.Resolution, as.Bucket}, referenceSignature(as)}
			if _, seen := byKey[k]; !seen {
				sigs[k.BucketKey] = append(sigs[k.BucketKey], k.refs)
			}
			for r := 0; r < it.Repeats; r++ {
				byKey[k] = append(byKey[k], planEntry{id: id, item: i, assign: a})
				id++
			}
		}
	}
	for _, bc := range ds.Buckets() {
		for _, sig := range sigs[bc.BucketKey] {
			g := byKey[groupKey{bc.BucketKey, sig}]
			p.groups = append(p.groups, g)
			if opts.DropLast {
				p.perEp += len(g) / opts.BatchSize
			} else {
				p.perEp += (len(g) + opts.BatchSize - 1) / opts.BatchSize
			}
		}
	}
	if p.perEp == 0 {
		return nil, fmt.Errorf("no bucket holds a full batch of %d samples (with drop-last); lower the batch size or add images", opts.BatchSize)
	}
	return p, nil
}

// BatchesPerEpoch is the number of batches in every epoch.
func (p *Plan) BatchesPerEpoch() int { return p.perEp }

// Next returns the position after pos.
func (p *Plan) Next(pos Position) Position {
	pos.Index++
	if pos.Index >= p.perEp {
		return Position{Epoch: pos.Epoch + 1}
	}
	return pos
}

// Batch returns the samples of the batch at pos.
func (p *Plan) Batch(pos Position) ([]Sample, error) {
	if pos.Epoch < 0 || pos.Index < 0 || pos.Index >= p.perEp {
		return nil, fmt.Errorf("data position %v outside the %d batches of an epoch", pos, p.perEp)
	}
	entries := p.epoch(pos.Epoch)[pos.Index]
	out := make([]Sample, len(entries))
	for i, e := range entries {
		out[i] = p.sample(pos.Epoch, e)
	}
	return out, nil
}

// epoch returns the batches of an epoch, computing them once per epoch
// (two are kept, for prefetching across an epoch boundary).
func (p *Plan) epoch(epoch int) [][]planEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	if order, ok := p.orders[epoch]; ok {
		return order
	}
	rng := rand.New(rand.NewPCG(p.opts.Seed, mix(uint64(epoch), 0x6f72646572))) // "order"
	var batches [][]planEntry
	for _, g := range p.groups {
		g = append([]planEntry(nil), g...)
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		for start := 0; start < len(g); start += p.opts.BatchSize {
			end := min(start+p.opts.BatchSize, len(g))
			if end-start < p.opts.BatchSize && p.opts.DropLast {
				break
			}
			batches = append(batches, g[start:end])
		}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	for len(p.orders) >= 2 { // forget the oldest
		oldest := -1
		for e := range p.orders {
			if oldest < 0 || e < oldest {
				oldest = e
			}
		}
		delete(p.orders, oldest)
	}
	p.orders[epoch] = batches
	return batches
}

// sample draws the random choices of one entry in one epoch: crop offset,
// flip, caption dropout and shuffling, from a generator seeded by (seed,
// epoch, entry id), so they do not depend on batch composition or on which
// positions were visited before.
func (p *Plan) sample(epoch int, e planEntry) Sample {
	it := &p.ds.Items[e.item]
	as := it.Assignments[e.assign]
	rng := rand.New(rand.NewPCG(p.opts.Seed^0x73616d706c65, mix(uint64(epoch), uint64(e.id)))) // "sample"
	offset := 0.5
	if u := rng.Float64(); p.ds.Config.Crop == CropRandom {
		offset = u
	}
	flip := rng.IntN(2) == 1 && p.ds.Config.Flip
	caption := p.ds.CaptionRulesOf(it).Apply(it.Caption, rng)
	return Sample{
		Item: e.item, Resolution: as.Resolution, Bucket: as.Bucket,
		Crop: bucket.CropRect(it.Width, it.Height, as.Bucket, offset),
		Flip: flip, Caption: caption,
		References: sampleReferences(it, as, offset),
	}
}

// mix combines two values into a well-spread 64-bit seed (splitmix64 of a
// combination).
func mix(a, b uint64) uint64 {
	z := a*0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E019
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
