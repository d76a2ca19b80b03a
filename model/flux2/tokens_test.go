package flux2

import (
	"slices"
	"testing"
)

// TestPackTokens checks the latent ↔ token layout against hand-computed
// cases and the round trip.
func TestPackTokens(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c, h, w int
		latent  []float32 // [C, H, W]
		tokens  []float32 // [H·W, C]
	}{
		{"one channel", 1, 2, 2, []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}},
		{"one pixel", 3, 1, 1, []float32{1, 2, 3}, []float32{1, 2, 3}},
		// Channel 0 is 0..5, channel 1 is 10..15 over a 2×3 grid: token
		// r·3 + c holds (channel 0, channel 1) at (r, c).
		{"2 channels 2x3", 2, 2, 3,
			[]float32{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15},
			[]float32{0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15}},
		{"3 channels 1x2", 3, 1, 2,
			[]float32{1, 2, 3, 4, 5, 6},
			[]float32{1, 3, 5, 2, 4, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PackTokens(tc.latent, tc.c, tc.h, tc.w); !slices.Equal(got, tc.tokens) {
				t.Errorf("PackTokens = %v, want %v", got, tc.tokens)
			}
			dst := make([]float32, len(tc.tokens)+2)
			PackTokensInto(dst[1:], tc.latent, tc.c, tc.h, tc.w)
			if !slices.Equal(dst[1:len(dst)-1], tc.tokens) || dst[0] != 0 || dst[len(dst)-1] != 0 {
				t.Errorf("PackTokensInto wrote %v, want 0 %v 0", dst, tc.tokens)
			}
			if got := UnpackTokens(tc.tokens, tc.c, tc.h, tc.w); !slices.Equal(got, tc.latent) {
				t.Errorf("UnpackTokens = %v, want %v", got, tc.latent)
			}
		})
	}
}
