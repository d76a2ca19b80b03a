package flux2

import "fmt"

// ImageIDs returns the position ids (t, h, w, l) = (t, r, c, 0) of a latent
// grid of h×w tokens in row-major order (token index r·w + c), for a batch of
// b. t is 0 for the image being generated and 10, 20, ... for reference
// images (see ReferenceTime).
func ImageIDs(b, h, w int, t float64) [][][4]float64 {
	out := make([][][4]float64, b)
	for i := range out {
		seq := make([][4]float64, 0, h*w)
		for r := 0; r < h; r++ {
			for c := 0; c < w; c++ {
				seq = append(seq, [4]float64{t, float64(r), float64(c), 0})
			}
		}
		out[i] = seq
	}
	return out
}

// ReferenceTime is the t position id of the k-th (0-based) reference image:
// 10 + 10·k, as in Black Forest Labs' encode_image_refs and diffusers'
// Flux2Pipeline._prepare_image_ids (see References).
func ReferenceTime(k int) float64 { return float64(10 + 10*k) }

// TextIDs returns the position ids (0, 0, 0, l) of l text tokens, for a batch of b.
func TextIDs(b, l int) [][][4]float64 {
	out := make([][][4]float64, b)
	for i := range out {
		seq := make([][4]float64, l)
		for j := range seq {
			seq[j] = [4]float64{0, 0, 0, float64(j)}
		}
		out[i] = seq
	}
	return out
}

// JointIDs concatenates text ids and image ids per batch element, text first
// (the order of the joint attention sequence).
func JointIDs(txt, img [][][4]float64) ([][][4]float64, error) {
	if len(txt) != len(img) {
		return nil, fmt.Errorf("position ids: %d text sequences but %d image sequences", len(txt), len(img))
	}
	out := make([][][4]float64, len(txt))
	for i := range txt {
		seq := make([][4]float64, 0, len(txt[i])+len(img[i]))
		seq = append(seq, txt[i]...)
		out[i] = append(seq, img[i]...)
	}
	return out, nil
}
