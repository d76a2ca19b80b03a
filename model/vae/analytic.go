package vae

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// NewAnalytic builds an autoencoder of the FLUX.2 architecture whose
// weights are set by hand so that decode(encode(x)) ≈ x blurred — a tiny,
// training-free stand-in for Flora's embedded demo (random VAE weights would
// make demo previews noise). It needs Groups = 1 and at least 8 channels.
//
// How: each colour channel c travels as the pair (+c, −c) and a constant K
// travels as (+K, −K). With one GroupNorm group, the pairs make the group
// mean exactly 0 and K dominates the variance (σ ≈ K·√(2/C)), so GroupNorm
// with scale σ is the identity up to ~1e-4 relative; a shift of +20 before
// SiLU keeps it in its linear range and the next convolution's bias removes
// it. Resnet blocks and mid attention contribute zero (zero output convs), the
// downsampling convolutions average 2×2 pixels, upsampling is nearest. The
// latent is the image averaged over 2^(levels−1) × 2^(levels−1) pixels,
// patchified; decoding upsamples it back.
func NewAnalytic(backend backends.Backend, cfg Config, opts Options) (*VAE, error) {
	if cfg.Groups != 1 {
		return nil, fmt.Errorf("the analytic VAE needs Groups = 1, got %d", cfg.Groups)
	}
	if cfg.Ch < 8 || cfg.ZChannels < 3 || cfg.InChannels != 3 || cfg.OutChannels != 3 {
		return nil, fmt.Errorf("the analytic VAE needs >= 8 channels, >= 3 latent channels and RGB images")
	}
	v, err := New(backend, cfg, opts)
	if err != nil {
		return nil, err
	}
	const (
		bigK  = 100.0 // constant channel dominating GroupNorm's variance
		shift = 20.0  // keeps SiLU linear: SiLU(y+20) = y+20 to 1e-8
	)
	shapes := cfg.ParamShapes()
	for _, name := range cfg.ParamNames() {
		dims := shapes[name]
		n := 1
		for _, d := range dims {
			n *= d
		}
		vals := make([]float32, n)
		conv := func(o, i, kh, kw int, w float32) { // weight [O, I, KH, KW]
			vals[((o*dims[1]+i)*dims[2]+kh)*dims[3]+kw] = w
		}
		center := func() (int, int) { return dims[2] / 2, dims[3] / 2 }
		gnScale := func(ch int) {
			for i := range vals {
				vals[i] = float32(bigK * math.Sqrt(2/float64(ch)))
			}
		}
		switch {
		case name == "bn.running_var":
			fill(vals, 1)
		case name == "bn.running_mean":
		case name == "encoder.conv_in.weight" || name == "decoder.conv_in.weight":
			kh, kw := center()
			for c := 0; c < 3; c++ {
				conv(2*c, c, kh, kw, 1)
				conv(2*c+1, c, kh, kw, -1)
			}
		case name == "encoder.conv_in.bias" || name == "decoder.conv_in.bias":
			vals[6], vals[7] = bigK, -bigK
		case strings.HasSuffix(name, "downsample.conv.weight"):
			for c := 0; c < 8; c++ {
				for kh := 0; kh < 2; kh++ {
					for kw := 0; kw < 2; kw++ {
						conv(c, c, kh, kw, 0.25)
					}
				}
			}
		case strings.HasSuffix(name, "upsample.conv.weight"):
			kh, kw := center()
			for c := 0; c < 8; c++ {
				conv(c, c, kh, kw, 1)
			}
		case strings.HasSuffix(name, "nin_shortcut.weight"):
			for c := 0; c < 8; c++ {
				conv(c, c, 0, 0, 1)
			}
		case name == "encoder.norm_out.weight" || name == "decoder.norm_out.weight":
			gnScale(dims[0])
		case name == "encoder.norm_out.bias" || name == "decoder.norm_out.bias":
			fill(vals, shift)
		case name == "encoder.conv_out.weight" || name == "decoder.conv_out.weight":
			kh, kw := center()
			for c := 0; c < 3; c++ {
				conv(c, 2*c, kh, kw, 1)
			}
		case name == "encoder.conv_out.bias" || name == "decoder.conv_out.bias":
			for c := 0; c < 3; c++ {
				vals[c] = -shift
			}
		case name == "encoder.quant_conv.weight" || name == "decoder.post_quant_conv.weight":
			for c := 0; c < dims[0]; c++ {
				conv(c, c, 0, 0, 1)
			}
		case len(dims) == 1 && strings.HasSuffix(name, ".weight"): // other GroupNorm scales
			fill(vals, 1)
		}
		if err := v.SetWeight(name, tensors.FromFlatDataAndDimensions(vals, dims...)); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func fill(v []float32, x float32) {
	for i := range v {
		v[i] = x
	}
}
