package flux2

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// References are the reference images of an edit (FLUX.2's multi-reference
// conditioning) as the transformer sees them: each reference's normalised
// packed latent [C, h_k, w_k] becomes h_k·w_k tokens (PackTokens order) with
// position ids (ReferenceTime(k), r, c, 0), and the references follow one
// another in order. They are appended after the target image's tokens, the
// transformer attends to all of them jointly, and only the first N (target)
// tokens of its output are the velocity (TargetTokens). This is how Black
// Forest Labs' encode_image_refs / denoise and diffusers' Flux2Pipeline
// (prepare_image_latents, _prepare_image_ids) build them; both use
// t = 10 + 10·k.
type References struct {
	// Tokens [R, C] are the reference tokens, R = Σ h_k·w_k.
	Tokens []float32
	// IDs [R] are their position ids.
	IDs [][4]float64
	// Channels is C.
	Channels int
	// Sizes are the latent grids (h_k, w_k) of the references, in order.
	Sizes [][2]int
}

// NewReferences builds the reference tokens and ids of latents, one per
// reference in order, each [C, h, w] or [1, C, h, w] float32 (a
// vae.VAE.Encode output); every latent must have the same C.
func NewReferences(latents []*tensors.Tensor) (*References, error) {
	if len(latents) == 0 {
		return nil, fmt.Errorf("references: no reference latents")
	}
	r := &References{}
	for k, l := range latents {
		d := l.Shape().Dimensions
		if len(d) == 4 && d[0] == 1 {
			d = d[1:]
		}
		if len(d) != 3 || d[0] < 1 || d[1] < 1 || d[2] < 1 {
			return nil, fmt.Errorf("reference %d: latent shape %v, want [C, h, w] or [1, C, h, w]", k, l.Shape().Dimensions)
		}
		c, h, w := d[0], d[1], d[2]
		if k == 0 {
			r.Channels = c
		} else if c != r.Channels {
			return nil, fmt.Errorf("reference %d: latent has %d channels, reference 0 has %d", k, c, r.Channels)
		}
		chw, err := tensors.CopyFlatData[float32](l)
		if err != nil {
			return nil, fmt.Errorf("reference %d: %w", k, err)
		}
		r.Tokens = append(r.Tokens, PackTokens(chw, c, h, w)...)
		r.IDs = append(r.IDs, ImageIDs(1, h, w, ReferenceTime(k))[0]...)
		r.Sizes = append(r.Sizes, [2]int{h, w})
	}
	return r, nil
}

// Len is the number of reference tokens R (0 for nil).
func (r *References) Len() int {
	if r == nil {
		return 0
	}
	return len(r.IDs)
}

// Append returns the target tokens x [B, N, C] followed by the reference
// tokens, [B, N+R, C] (the same references for every batch element), and
// the target image ids imgIDs ([B][N]) followed by the reference ids. A nil
// r returns x and imgIDs unchanged.
func (r *References) Append(x *tensors.Tensor, imgIDs [][][4]float64) (*tensors.Tensor, [][][4]float64, error) {
	if r.Len() == 0 {
		return x, imgIDs, nil
	}
	d := x.Shape().Dimensions
	if len(d) == 3 && len(imgIDs) != d[0] {
		return nil, nil, fmt.Errorf("references: %d image id sequences for a batch of %d", len(imgIDs), d[0])
	}
	for i, seq := range imgIDs {
		if len(d) == 3 && len(seq) != d[1] {
			return nil, nil, fmt.Errorf("references: batch element %d has %d image ids for %d tokens", i, len(seq), d[1])
		}
	}
	xr, err := r.AppendTokens(x)
	if err != nil {
		return nil, nil, err
	}
	return xr, r.AppendIDs(imgIDs), nil
}

// AppendTokens returns the target tokens x [B, N, C] followed by the
// reference tokens: [B, N+R, C]. A nil r returns x.
func (r *References) AppendTokens(x *tensors.Tensor) (*tensors.Tensor, error) {
	if r.Len() == 0 {
		return x, nil
	}
	d := x.Shape().Dimensions
	if len(d) != 3 || d[2] != r.Channels {
		return nil, fmt.Errorf("references: target tokens have shape %v, want [B, N, %d]", d, r.Channels)
	}
	b, n, c := d[0], d[1], d[2]
	flat, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		return nil, fmt.Errorf("references: %w", err)
	}
	rn := r.Len()
	out := make([]float32, 0, b*(n+rn)*c)
	for i := 0; i < b; i++ {
		out = append(out, flat[i*n*c:(i+1)*n*c]...)
		out = append(out, r.Tokens...)
	}
	return tensors.FromFlatDataAndDimensions(out, b, n+rn, c), nil
}

// AppendIDs returns each batch element's target image ids followed by the
// reference ids. A nil r returns imgIDs.
func (r *References) AppendIDs(imgIDs [][][4]float64) [][][4]float64 {
	if r.Len() == 0 {
		return imgIDs
	}
	out := make([][][4]float64, len(imgIDs))
	for i, ids := range imgIDs {
		seq := make([][4]float64, 0, len(ids)+r.Len())
		seq = append(seq, ids...)
		out[i] = append(seq, r.IDs...)
	}
	return out
}

// TargetTokens returns the first n tokens of each batch element of v
// [B, M, C] (M ≥ n): the target image's share of a transformer output
// computed with references appended.
func TargetTokens(v *tensors.Tensor, n int) (*tensors.Tensor, error) {
	d := v.Shape().Dimensions
	if len(d) != 3 || n < 1 || d[1] < n {
		return nil, fmt.Errorf("target tokens: output shape %v cannot hold %d target tokens", d, n)
	}
	if d[1] == n {
		return v, nil
	}
	flat, err := tensors.CopyFlatData[float32](v)
	if err != nil {
		return nil, fmt.Errorf("target tokens: %w", err)
	}
	b, m, c := d[0], d[1], d[2]
	out := make([]float32, 0, b*n*c)
	for i := 0; i < b; i++ {
		out = append(out, flat[i*m*c:(i*m+n)*c]...)
	}
	return tensors.FromFlatDataAndDimensions(out, b, n, c), nil
}
