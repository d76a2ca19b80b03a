// Package cache stores the latents and text embeddings of a dataset on disk
// so they are computed once: each entry is a small safetensors file under a
// cache folder, named by a hash of everything that determines its content
// (image bytes, encoder identity, bucket, crop, flip, background; or caption
// text and text-encoder identity). Changing any of them changes the key, so
// stale entries are never used; a corrupt entry is rebuilt, not fatal.
// The VAE and the text encoders plug in through the LatentEncoder and
// TextEncoder interfaces.
package cache

import (
	"fmt"
	"strings"
)

// Tensor is a host-side float32 tensor in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Validate checks that Data holds exactly the elements of a non-empty Shape.
func (t Tensor) Validate() error {
	if len(t.Shape) == 0 {
		return fmt.Errorf("tensor has no shape")
	}
	n := 1
	for _, d := range t.Shape {
		if d <= 0 || n > (1<<40)/d {
			return fmt.Errorf("tensor shape %v is invalid", t.Shape)
		}
		n *= d
	}
	if n != len(t.Data) {
		return fmt.Errorf("tensor shape %v needs %d values, has %d", t.Shape, n, len(t.Data))
	}
	return nil
}

// LatentEncoder turns preprocessed images into training latents (the VAE
// encoder, with whatever packing and normalisation the model trains on).
type LatentEncoder interface {
	// Identity names the encoder and every setting that changes its output:
	// the weights (e.g. a hash of the file), the precision, the
	// normalisation. It is part of every latent's cache key.
	Identity() string
	// Encode maps images of one size, each [3, H, W] in [−1, 1], to one
	// latent each (for FLUX.2: [128, H/16, W/16]).
	Encode(images []Tensor) ([]Tensor, error)
}

// TextEncoder turns captions into the text context the model trains on.
type TextEncoder interface {
	// Identity names the encoder and every setting that changes its output:
	// the weights, the hidden-state layers stacked, the maximum token length,
	// the prompt template. Build it with TextIdentity. It is part of every
	// embedding's cache key.
	Identity() string
	// Encode maps captions to one embedding each (for FLUX.2: [L, D]).
	Encode(captions []string) ([]Tensor, error)
}

// TextIdentity formats a text-encoder identity from the model identity, the
// hidden-state layers and the maximum token length, e.g.
// "qwen3-4b@sha256:ab12|layers=9,18,27|max_len=512".
func TextIdentity(model string, layers []int, maxLength int) string {
	ls := make([]string, len(layers))
	for i, l := range layers {
		ls[i] = fmt.Sprint(l)
	}
	return fmt.Sprintf("%s|layers=%s|max_len=%d", model, strings.Join(ls, ","), maxLength)
}
