package vae

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/internal/tensorload"
)

// TensorSource is a set of named tensors read one at a time (a safetensors
// checkpoint: model/weights implements it); see tensorload.Source.
type TensorSource = tensorload.Source

// Layout is an autoencoder checkpoint naming scheme (tensorload.Layout).
type Layout = tensorload.Layout

const (
	// LayoutOfficial is Black Forest Labs' naming (ae.safetensors):
	// encoder.down.*, decoder.up.*, bn.*.
	LayoutOfficial = tensorload.LayoutOfficial
	// LayoutDiffusers is diffusers' AutoencoderKLFlux2 naming:
	// encoder.down_blocks.*, decoder.up_blocks.*, quant_conv.*, bn.*.
	LayoutDiffusers = tensorload.LayoutDiffusers
)

// OfficialPrefixes are prefixes that repackagings put in front of official
// autoencoder names (a VAE inside a combined checkpoint); the loader strips
// them.
var OfficialPrefixes = []string{"first_stage_model.", "vae."}

// stripOfficialPrefix removes a known repackaging prefix.
func stripOfficialPrefix(name string) string {
	return tensorload.TrimFirstPrefix(name, OfficialPrefixes)
}

// ignoredTensors are stored tensors the model does not use: BatchNorm's
// update counter (present in some files, int64).
func ignoredTensor(canonical string) bool {
	return canonical == "bn.num_batches_tracked"
}

// layoutRule tells the autoencoder's naming schemes apart.
var layoutRule = tensorload.LayoutRule{
	Part:     "FLUX.2 autoencoder",
	Prefixes: OfficialPrefixes,
	Official: func(n string) bool {
		return strings.HasPrefix(n, "encoder.down.") || strings.HasPrefix(n, "decoder.up.") ||
			strings.HasPrefix(n, "encoder.mid.") || strings.HasPrefix(n, "decoder.mid.")
	},
	Diffusers: func(n string) bool {
		return strings.HasPrefix(n, "encoder.down_blocks.") || strings.HasPrefix(n, "decoder.up_blocks.") ||
			strings.HasPrefix(n, "encoder.mid_block.") || strings.HasPrefix(n, "decoder.mid_block.")
	},
	OfficialHint:  "encoder.down.*",
	DiffusersHint: "encoder.down_blocks.*",
}

// DetectLayout tells which naming scheme the tensor names use.
func DetectLayout(names []string) (Layout, error) { return layoutRule.Detect(names) }

// storedNames indexes a source's tensors by their name in the layout
// without repackaging prefixes.
func storedNames(src TensorSource, layout Layout) map[string]string {
	return tensorload.StoredNames(src.Names(), layout, OfficialPrefixes)
}

// nameOf returns the layout's name of an official tensor name.
func (c Config) nameOf(official string, layout Layout) (string, error) {
	if layout == LayoutDiffusers {
		return c.DiffusersName(official)
	}
	return official, nil
}

// maxIndex returns 1 + the largest number captured by re over the names, or 0.
func maxIndex(names map[string]string, re *regexp.Regexp) int {
	n := 0
	for k := range names {
		if m := re.FindStringSubmatch(k); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < 1<<20 {
				n = max(n, i+1)
			}
		}
	}
	return n
}
