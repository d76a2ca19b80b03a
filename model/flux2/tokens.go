package flux2

// The transformer sees a latent grid as a token sequence: token r·W + c is
// the channel vector at row r, column c (position ids: ImageIDs). These
// convert between that layout [H·W, C] and a latent [C, H, W], one batch
// element at a time; they are the one place the layout is written down.

// PackTokens converts a latent [C, H, W] to tokens [H·W, C] (token r·W + c).
func PackTokens(chw []float32, c, h, w int) []float32 {
	out := make([]float32, h*w*c)
	PackTokensInto(out, chw, c, h, w)
	return out
}

// PackTokensInto writes the tokens [H·W, C] of a latent chw [C, H, W] into
// dst[:H·W·C] (a batch element's slice of a [B, H·W, C] buffer).
func PackTokensInto(dst, chw []float32, c, h, w int) {
	n := h * w
	for ch := 0; ch < c; ch++ {
		for t := 0; t < n; t++ {
			dst[t*c+ch] = chw[ch*n+t]
		}
	}
}

// UnpackTokens converts tokens [H·W, C] back to a latent [C, H, W].
func UnpackTokens(tokens []float32, c, h, w int) []float32 {
	n := h * w
	out := make([]float32, n*c)
	for ch := 0; ch < c; ch++ {
		for t := 0; t < n; t++ {
			out[ch*n+t] = tokens[t*c+ch]
		}
	}
	return out
}
