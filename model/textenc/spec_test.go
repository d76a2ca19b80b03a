package textenc

import (
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/model/flux2"
)

// TestSpecForVariant proves every FLUX.2 variant gets its own text encoder,
// layer set and padding: dev stacks Mistral layers 10/20/30 (left padding),
// klein 4B Qwen3-4B layers 9/18/27 and klein 9B Qwen3-8B layers 9/18/27
// (right padding) — not the 10/20/30 the diffusers klein training script
// defaults to.
func TestSpecForVariant(t *testing.T) {
	tests := []struct {
		variant, encoder string
		layers           []int
		pad              PadSide
		width            int
	}{
		{"dev", "mistral-small-3.1-24b", []int{10, 20, 30}, PadLeft, 15360},
		{"klein-4b", "qwen3-4b", []int{9, 18, 27}, PadRight, 7680},
		{"klein-base-4b", "qwen3-4b", []int{9, 18, 27}, PadRight, 7680},
		{"klein-9b", "qwen3-8b", []int{9, 18, 27}, PadRight, 12288},
		{"klein-base-9b", "qwen3-8b", []int{9, 18, 27}, PadRight, 12288},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			s, err := SpecForVariant(tc.variant)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			if s.Name != tc.encoder || !slices.Equal(s.Layers, tc.layers) || s.PadSide != tc.pad || s.OutputDim() != tc.width {
				t.Errorf("got %s layers %v pad %s width %d; want %s %v %s %d",
					s.Name, s.Layers, s.PadSide, s.OutputDim(), tc.encoder, tc.layers, tc.pad, tc.width)
			}
			if s.MaxLength != 512 || s.Depth() != tc.layers[2] {
				t.Errorf("MaxLength %d, Depth %d", s.MaxLength, s.Depth())
			}
			if s.Config.Family == FamilyQwen3 && slices.Equal(s.Layers, DevLayers) {
				t.Error("a Qwen3 encoder got the dev layer set")
			}
		})
	}
	// Each spec is a copy: changing it does not change the table.
	s, _ := SpecForVariant("klein-4b")
	s.Layers[0] = 10
	if again, _ := SpecForVariant("klein-4b"); again.Layers[0] != 9 {
		t.Fatal("SpecForVariant returned shared layer slices")
	}
	if _, err := SpecForVariant("schnell"); err == nil || !strings.Contains(err.Error(), "klein-4b") {
		t.Fatalf("unknown variant: %v", err)
	}
}

// TestSpecMatchesTransformerVariants cross-checks the binding with model/flux2:
// the layer set of every published variant and the transformer's context
// width (txt_in input) = len(layers) × text hidden size.
func TestSpecMatchesTransformerVariants(t *testing.T) {
	checked := 0
	for _, v := range flux2.Variants {
		if v.Name == "tiny" {
			continue // its 40-wide context has no real text encoder
		}
		s, err := SpecForVariant(v.Name)
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		if !slices.Equal(s.Layers, v.TextLayers[:]) {
			t.Errorf("%s: layers %v, flux2 says %v", v.Name, s.Layers, v.TextLayers)
		}
		if s.OutputDim() != v.Config.ContextDim {
			t.Errorf("%s: output width %d, transformer context dim %d", v.Name, s.OutputDim(), v.Config.ContextDim)
		}
		checked++
	}
	if checked != len(variantEncoders) {
		t.Errorf("checked %d variants, the table binds %d", checked, len(variantEncoders))
	}
}

func TestSpecValidate(t *testing.T) {
	s, err := SpecByName("tiny-qwen3")
	if err != nil {
		t.Fatal(err)
	}
	s.Layers = []int{1, 6}
	s.MaxLength = 4096
	err = s.Validate()
	if err == nil || !strings.Contains(err.Error(), "layer 6") || !strings.Contains(err.Error(), "MaxLength") {
		t.Fatalf("Validate = %v", err)
	}
	s.Layers = nil
	if err := s.Validate(); err == nil {
		t.Fatal("empty layer set accepted")
	}
}
