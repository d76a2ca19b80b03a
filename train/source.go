package train

import "github.com/flora-ml/flora/data/feed"

// Sample is one training example as the trainer consumes it (a latent and
// its caption's embedding); data/feed produces them from the caches.
type Sample = feed.Sample

// BatchSource yields batches of samples that share one latent size (one
// aspect bucket). Its position is part of every checkpoint, so a resumed
// run sees exactly the batches an uninterrupted run would.
type BatchSource interface {
	// Next returns the next batch (endless: epochs roll over).
	Next() ([]Sample, error)
	// State serialises the position (data order, RNG) for checkpoints.
	State() ([]byte, error)
	// Restore returns to a position produced by State.
	Restore(state []byte) error
}

// feed.Source is the BatchSource of real runs.
var _ BatchSource = (*feed.Source)(nil)
