package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
)

// batchReferences are the reference images of a batch as the transformer
// takes them (FLUX.2 multi-reference conditioning): each sample's clean
// reference tokens, appended after its noised target tokens, with the
// position ids every sample shares (the references of a batch have the same
// shapes: the data plan keeps them together). The loss covers the target
// tokens only (flux2.FlowMatchingLoss).
type batchReferences struct {
	// tokens[i] are sample i's reference tokens [R, C], flattened.
	tokens [][]float32
	// ids are the R reference position ids.
	ids [][4]float64
}

// len is the number of reference tokens R per sample (0 without).
func (r *batchReferences) len() int {
	if r == nil {
		return 0
	}
	return len(r.ids)
}

// referencesOf returns the batch's references, or nil when its samples have
// none. Every sample must have references of the same shapes.
func referencesOf(samples []Sample) (*batchReferences, error) {
	s0 := samples[0]
	if len(s0.References) == 0 {
		for _, s := range samples[1:] {
			if len(s.References) > 0 {
				return nil, fmt.Errorf("batch mixes samples with and without references: %s has %d, %s none", s.Key, len(s.References), s0.Key)
			}
		}
		return nil, nil
	}
	shape := referenceShapes(s0)
	r := &batchReferences{}
	for i, s := range samples {
		if got := referenceShapes(s); !slices.Equal(got, shape) {
			return nil, fmt.Errorf("batch mixes reference shapes: %s has %v, %s %v", s0.Key, shape, s.Key, got)
		}
		latents := make([]*tensors.Tensor, len(s.References))
		for k, ref := range s.References {
			if ref.C != s.C {
				return nil, fmt.Errorf("reference %s of %s has %d latent channels, the image %d", ref.Key, s.Key, ref.C, s.C)
			}
			latents[k] = tensors.FromFlatDataAndDimensions(ref.Latent, ref.C, ref.H, ref.W)
		}
		refs, err := flux2.NewReferences(latents)
		if err != nil {
			return nil, fmt.Errorf("references of %s: %w", s.Key, err)
		}
		r.tokens = append(r.tokens, refs.Tokens)
		if i == 0 {
			r.ids = refs.IDs
		}
	}
	return r, nil
}

// referenceShapes lists a sample's reference latent shapes (C, H, W each).
func referenceShapes(s Sample) []int {
	var out []int
	for _, r := range s.References {
		out = append(out, r.C, r.H, r.W)
	}
	return out
}

// imageIDs are the position ids of b samples' target grids h×w followed by
// the references' (the same for every sample).
func (r *batchReferences) imageIDs(b, h, w int) [][][4]float64 {
	ids := flux2.ImageIDs(b, h, w, 0)
	if r.len() == 0 {
		return ids
	}
	for i := range ids {
		ids[i] = append(ids[i], r.ids...)
	}
	return ids
}

// appendTo writes sample i's reference tokens after its target tokens in
// x, whose rows are (n + R)·c long: x[i] = target tokens (already written
// at the row start), then the references.
func (r *batchReferences) appendTo(x []float32, i, n, c int) {
	if r.len() == 0 {
		return
	}
	row := (n + r.len()) * c
	copy(x[i*row+n*c:(i+1)*row], r.tokens[i])
}
