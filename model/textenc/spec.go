package textenc

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flora-ml/flora/model/textenc/tokenizer"
)

// PadSide is where a tokenizer puts the padding of a fixed-length sequence:
// the tokenizer's own type, so a Spec and a chat template speak of the same
// side.
type PadSide = tokenizer.PadSide

const (
	// PadRight puts pad tokens after the prompt (Qwen2 tokenizer, klein).
	PadRight = tokenizer.PadRight
	// PadLeft puts pad tokens before the prompt (Mistral processor, dev).
	PadLeft = tokenizer.PadLeft
)

// Layer sets of the FLUX.2 pipelines (hidden-state indices, 0 = embeddings).
// They belong to the model family, not to the user: the diffusers klein LoRA
// training script wrongly defaults to DevLayers for Qwen3.
var (
	// DevLayers are the Mistral hidden states FLUX.2 [dev] stacks.
	DevLayers = []int{10, 20, 30}
	// KleinLayers are the Qwen3 hidden states FLUX.2 [klein] stacks.
	KleinLayers = []int{9, 18, 27}
)

// MaxSequenceLength is the padded prompt length of the FLUX.2 pipelines.
const MaxSequenceLength = 512

// Spec is one text encoder as a FLUX.2 variant uses it: the model, which
// hidden states it stacks and how its prompts are padded.
type Spec struct {
	// Name identifies the model ("qwen3-4b", "mistral-small-3.1-24b", ...).
	Name string
	// Config is the language model architecture.
	Config Config
	// Layers are the hidden-state indices stacked per token, in this order
	// (0 = embedding output, k = after decoder layer k; k = NumLayers is the
	// final-normed output, as transformers reports it).
	Layers []int
	// PadSide is the padding convention masks must follow.
	PadSide PadSide
	// MaxLength is the sequence length prompts are padded to.
	MaxLength int
}

// Specs are the known text encoders by name.
var Specs = []Spec{
	{Name: "mistral-small-3.1-24b", Config: MistralSmall3Config(), Layers: DevLayers, PadSide: PadLeft, MaxLength: MaxSequenceLength},
	{Name: "qwen3-4b", Config: Qwen3_4BConfig(), Layers: KleinLayers, PadSide: PadRight, MaxLength: MaxSequenceLength},
	{Name: "qwen3-8b", Config: Qwen3_8BConfig(), Layers: KleinLayers, PadSide: PadRight, MaxLength: MaxSequenceLength},
	{Name: "tiny-qwen3", Config: TinyQwen3Config(), Layers: []int{1, 3, 4}, PadSide: PadRight, MaxLength: MaxSequenceLength},
	{Name: "tiny-mistral", Config: TinyMistralConfig(), Layers: []int{1, 3, 4}, PadSide: PadLeft, MaxLength: MaxSequenceLength},
}

// variantEncoders binds every published FLUX.2 variant (model/flux2 names)
// to its text encoder.
var variantEncoders = map[string]string{
	"dev":           "mistral-small-3.1-24b",
	"klein-4b":      "qwen3-4b",
	"klein-base-4b": "qwen3-4b",
	"klein-9b":      "qwen3-8b",
	"klein-base-9b": "qwen3-8b",
}

// SpecByName returns a copy of the named text encoder spec.
func SpecByName(name string) (Spec, error) {
	names := make([]string, 0, len(Specs))
	for _, s := range Specs {
		if s.Name == name {
			s.Layers = slices.Clone(s.Layers)
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Spec{}, fmt.Errorf("unknown text encoder %q (known: %s)", name, strings.Join(names, ", "))
}

// SpecForVariant returns the text encoder of a FLUX.2 variant ("dev",
// "klein-4b", "klein-9b", "klein-base-4b", "klein-base-9b") with the layer
// set and padding its pipeline uses.
func SpecForVariant(variant string) (Spec, error) {
	name, ok := variantEncoders[variant]
	if !ok {
		known := make([]string, 0, len(variantEncoders))
		for v := range variantEncoders {
			known = append(known, v)
		}
		slices.Sort(known)
		return Spec{}, fmt.Errorf("no text encoder for FLUX.2 variant %q (known: %s)", variant, strings.Join(known, ", "))
	}
	return SpecByName(name)
}

// PadSideOf returns the FLUX.2 padding convention of a model family.
func PadSideOf(f Family) PadSide {
	if f == FamilyMistral {
		return PadLeft
	}
	return PadRight
}

// Validate checks the spec's config and layer set.
func (s Spec) Validate() error {
	var errs []error
	if err := s.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(s.Layers) == 0 {
		errs = append(errs, errors.New("no hidden-state layers selected"))
	}
	for _, k := range s.Layers {
		if k < 0 || k > s.Config.NumLayers {
			errs = append(errs, fmt.Errorf("hidden-state layer %d is outside 0..%d", k, s.Config.NumLayers))
		}
	}
	if s.MaxLength <= 0 || s.MaxLength > s.Config.MaxPositions {
		errs = append(errs, fmt.Errorf("MaxLength %d must be in [1, %d]", s.MaxLength, s.Config.MaxPositions))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("text encoder %s: %w", s.Name, err)
	}
	return nil
}

// OutputDim is the width of a stacked token embedding: len(Layers)·Hidden.
func (s Spec) OutputDim() int { return len(s.Layers) * s.Config.Hidden }

// Depth is the number of decoder layers that must run: the deepest selected
// hidden state.
func (s Spec) Depth() int {
	d := 0
	for _, k := range s.Layers {
		d = max(d, k)
	}
	return d
}

// needsFinalNorm says whether a selected hidden state is the final-normed
// output (index NumLayers), which transformers substitutes for the last
// hidden state.
func (s Spec) needsFinalNorm() bool { return slices.Contains(s.Layers, s.Config.NumLayers) }
