package feed

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
	// Weight scales the example's loss (its folder's weight; 0 means 1).
	Weight float64
	// References are the latents of the example's reference (control)
	// images, in order; nil for plain text-to-image examples. Every sample
	// of a batch has the same number of references with the same shapes.
	References []Reference
	// Mask holds the example's per-token loss weights, H×W in token order
	// (row-major, as flux2.PackTokens): its loss mask averaged down to the
	// latent grid, mask_min outside (data.Dataset.MaskWeights). nil: every
	// token weighs 1.
	Mask []float32
}

// Reference is the latent of one reference image of a Sample: [C, H, W]
// row-major, prepared and encoded like the target's latent (same C; H×W
// its own tokens, from its own bucket: data.ReferenceBucket).
type Reference struct {
	Latent  []float32
	C, H, W int
	// Key identifies the reference image (file path) for logs.
	Key string
}

// LossWeight is the example's loss weight (Weight, 1 when unset).
func (s Sample) LossWeight() float64 {
	if s.Weight == 0 {
		return 1
	}
	return s.Weight
}
