package data

import (
	"errors"
	"runtime"
	"sync"

	"github.com/flora-ml/flora/data/bucket"
)

// Batch is a prepared batch: samples of one bucket with their pixels.
type Batch struct {
	// Position is where this batch is in the plan.
	Position   Position
	Resolution int
	Bucket     bucket.Bucket
	Samples    []Sample
	// Paths are the image files of the samples.
	Paths []string
	// Pixels holds one tensor [3, Bucket.Height, Bucket.Width] per sample,
	// values in [−1, 1] (see Dataset.Pixels).
	Pixels [][]float32
}

// LoaderOptions configure the prefetching loader.
type LoaderOptions struct {
	// Workers is the number of batches prepared in parallel
	// (0 = GOMAXPROCS, at most 8).
	Workers int
	// Prefetch is how many batches may wait ready or in preparation ahead of
	// the consumer (0 = Workers + 1). Memory is bounded by about
	// Prefetch + 1 batches.
	Prefetch int
}

// Loader prepares the plan's batches on background goroutines, in order,
// a bounded number ahead of the consumer. Next, Position, Seek and Close
// must be called from one goroutine.
type Loader struct {
	ds       *Dataset
	plan     *Plan
	workers  int
	prefetch int
	next     Position
	run      *loaderRun
}

type batchResult struct {
	batch *Batch
	err   error
}

// loaderRun is one set of background goroutines started at a position.
type loaderRun struct {
	futures chan chan batchResult
	stop    chan struct{}
	wg      sync.WaitGroup
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("data loader is closed")

// NewLoader starts preparing batches of plan from position start.
func NewLoader(ds *Dataset, plan *Plan, start Position, opts LoaderOptions) (*Loader, error) {
	if _, err := plan.Batch(start); err != nil {
		return nil, err
	}
	w := opts.Workers
	if w <= 0 {
		w = min(runtime.GOMAXPROCS(0), 8)
	}
	pf := opts.Prefetch
	if pf <= 0 {
		pf = w + 1
	}
	l := &Loader{ds: ds, plan: plan, workers: w, prefetch: pf}
	l.start(start)
	return l, nil
}

// Position is the position of the batch the next call to Next returns; save
// it in checkpoints and pass it to Seek (or NewLoader) to resume.
func (l *Loader) Position() Position { return l.next }

// Next returns the next batch. A file that fails to decode is an error
// naming it; the loader then moves on, so calling Next again continues with
// the following batch.
func (l *Loader) Next() (*Batch, error) {
	if l.run == nil {
		return nil, ErrClosed
	}
	fut := <-l.run.futures
	res := <-fut
	l.next = l.plan.Next(l.next)
	return res.batch, res.err
}

// Seek discards prepared batches and restarts at pos.
func (l *Loader) Seek(pos Position) error {
	if _, err := l.plan.Batch(pos); err != nil {
		return err
	}
	l.Close()
	l.start(pos)
	return nil
}

// Close stops the background goroutines and waits for them.
func (l *Loader) Close() {
	if l.run == nil {
		return
	}
	close(l.run.stop)
	l.run.wg.Wait()
	l.run = nil
}

func (l *Loader) start(pos Position) {
	l.next = pos
	run := &loaderRun{futures: make(chan chan batchResult, l.prefetch), stop: make(chan struct{})}
	type job struct {
		pos Position
		fut chan batchResult
	}
	jobs := make(chan job)
	run.wg.Add(1 + l.workers)
	go func() { // dispatcher: reserves a slot in order, then hands the job out
		defer run.wg.Done()
		defer close(jobs)
		for p := pos; ; p = l.plan.Next(p) {
			fut := make(chan batchResult, 1)
			select {
			case run.futures <- fut:
			case <-run.stop:
				return
			}
			select {
			case jobs <- job{p, fut}:
			case <-run.stop:
				return
			}
		}
	}()
	for w := 0; w < l.workers; w++ {
		go func() {
			defer run.wg.Done()
			for j := range jobs {
				b, err := l.prepare(j.pos)
				j.fut <- batchResult{b, err}
			}
		}()
	}
	l.run = run
}

// prepare builds the batch at pos.
func (l *Loader) prepare(pos Position) (*Batch, error) {
	samples, err := l.plan.Batch(pos)
	if err != nil {
		return nil, err
	}
	b := &Batch{Position: pos, Resolution: samples[0].Resolution, Bucket: samples[0].Bucket, Samples: samples}
	for _, s := range samples {
		px, err := l.ds.Pixels(s, nil)
		if err != nil {
			return nil, err
		}
		b.Paths = append(b.Paths, l.ds.Items[s.Item].Path)
		b.Pixels = append(b.Pixels, px)
	}
	return b, nil
}
