package train

// Sample is one training example as the trainer consumes it: a normalised
// FLUX.2 latent and the text embedding of its caption.
type Sample struct {
	// Latent is [C, H, W] row-major: the VAE latent after 2×2 patchify and
	// BatchNorm normalisation (C = transformer in-channels, H×W tokens).
	Latent  []float32
	C, H, W int
	// Embedding is [L, D] row-major: the text-encoder context for the caption.
	Embedding []float32
	L, D      int
	// Key identifies the example (file path) for logs.
	Key string
}

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
