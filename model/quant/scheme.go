// Package quant stores the frozen base weights of the FLUX.2 transformer in
// fewer bits — int8 (per-output-channel absmax scale), fp8 e4m3 (per-channel
// scale) or NF4 (4-bit NormalFloat in blocks of 64 with an absmax per block,
// optionally double-quantized) — and dequantizes each layer's weight inside
// the graph right before its matmul, to the compute dtype. Quantization runs
// tensor by tensor while the checkpoint streams in, so the full-precision
// model is never held. LoRA adapters wrap the quantized layers unchanged.
package quant

import (
	"fmt"
	"path"
	"strings"
)

// Scheme is a weight storage format.
type Scheme string

// The quantization schemes.
const (
	None Scheme = "none"
	Int8 Scheme = "int8"
	FP8  Scheme = "fp8"
	NF4  Scheme = "nf4"
)

// ParseScheme validates a scheme name.
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(s) {
	case None, Int8, FP8, NF4:
		return Scheme(s), nil
	case "":
		return None, nil
	}
	return "", fmt.Errorf("unknown quantization scheme %q (known: none, int8, fp8, nf4)", s)
}

// Options choose the scheme and the layers it applies to.
type Options struct {
	Scheme Scheme
	// DoubleQuant quantizes NF4's per-block absmax values to 8 bits
	// (blocks of 256), saving ~0.4 bits per weight.
	DoubleQuant bool
	// Keep lists module patterns (path.Match on official module paths) left
	// unquantized. Nil means DefaultKeep.
	Keep []string
}

// DefaultKeep leaves in full precision what is small but sensitive: the
// input embedders, the time/guidance MLPs, the shared modulation layers and
// the final layer (together ~2.5% of dev's weights). Norm scales are 1-D and
// never quantized.
var DefaultKeep = []string{"img_in", "txt_in", "time_in.*", "guidance_in.*", "*_modulation*", "final_layer.*"}

// Quantizes reports whether the weight `official` with dims is stored
// quantized under these options.
func (o Options) Quantizes(official string, dims []int) bool {
	if o.Scheme == None || o.Scheme == "" || len(dims) != 2 || !strings.HasSuffix(official, ".weight") {
		return false
	}
	module := strings.TrimSuffix(official, ".weight")
	keep := o.Keep
	if keep == nil {
		keep = DefaultKeep
	}
	for _, p := range keep {
		if ok, _ := path.Match(p, module); ok {
			return false
		}
	}
	if o.Scheme == NF4 && dims[1]%2 != 0 {
		return false // cannot pack two codes per byte
	}
	return true
}
