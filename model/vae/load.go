package vae

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/tensorload"
)

// LoadError lists every problem found in a checkpoint at once.
type LoadError struct {
	Source string
	Layout Layout
	Config Config
	tensorload.Problems
	// FileConfig is the architecture inferred from the file when it differs
	// from the one asked for (nil when unknown or equal).
	FileConfig *Config
}

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not a loadable FLUX.2 autoencoder (%s layout, architecture ch %d × %v, %d res blocks, z %d):",
		e.Source, e.Layout, e.Config.Ch, e.Config.ChMult, e.Config.NumResBlocks, e.Config.ZChannels)
	e.Write(&b, tensorload.DefaultLabels)
	if f := e.FileConfig; f != nil {
		fmt.Fprintf(&b, "\n  the file holds another architecture: ch %d × %v, %d res blocks, z %d, decoder ch %d",
			f.Ch, f.ChMult, f.NumResBlocks, f.ZChannels, f.DecoderBaseCh())
	}
	b.WriteString("\n  (is this the VAE file of the same model? a wrong-sized file usually means another model's autoencoder)")
	return b.String()
}

// Load builds a VAE from a tensor source in either layout (official
// ae.safetensors names or a diffusers vae/ folder; detected from the names).
// The architecture is inferred from the shapes unless opts.Config is set.
// All missing, unexpected and mis-shaped tensors are reported together in a
// *LoadError; bn.num_batches_tracked is ignored.
func Load(backend backends.Backend, src TensorSource, sourceName string, opts Options) (*VAE, error) {
	layout, cfg, err := tensorload.LayoutAndConfig(src, sourceName, layoutRule, opts.Config, InferConfig)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", sourceName, err)
	}
	plan, lerr := planLoad(cfg, src, layout, opts.IgnoreUnexpected)
	if lerr != nil {
		lerr.Source = sourceName
		if opts.Config != nil {
			if fileCfg, err := InferConfig(src, layout); err == nil && !fileCfg.Equal(cfg) {
				lerr.FileConfig = &fileCfg
			}
		}
		return nil, lerr
	}
	v, err := New(backend, cfg, opts)
	if err != nil {
		return nil, err
	}
	for _, official := range cfg.ParamNames() {
		stored := plan[official]
		dtype := v.dtype
		if official == bnMean || official == bnVar {
			dtype = dtypes.Float32
		}
		t, err := src.ReadAs(stored, dtype)
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", sourceName, stored, err)
		}
		if want := v.shapes[official]; !slices.Equal(t.Shape().Dimensions, want) {
			// Diffusers' 2-D attention projections.
			if t, err = reshapeTensor(t, want...); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", sourceName, stored, err)
			}
		}
		if err := v.SetWeight(official, t); err != nil {
			return nil, fmt.Errorf("%s: %w", sourceName, err)
		}
	}
	return v, nil
}

// planLoad maps every official name of cfg to its stored name, checking
// presence and shapes, and collects every problem.
func planLoad(cfg Config, src TensorSource, layout Layout, ignoreUnexpected bool) (map[string]string, *LoadError) {
	stored := storedNames(src, layout)
	used := map[string]bool{}
	plan := map[string]string{}
	lerr := &LoadError{Layout: layout, Config: cfg}
	for official, want := range cfg.ParamShapes() {
		key, err := cfg.nameOf(official, layout)
		if err != nil {
			lerr.Missing = append(lerr.Missing, official)
			continue
		}
		name, ok := stored[key]
		if !ok {
			lerr.Missing = append(lerr.Missing, key)
			continue
		}
		used[key] = true
		d, _ := src.Dims(name)
		okShape := slices.Equal(d, want)
		if !okShape && layout == LayoutDiffusers && isAttentionProjection(official) {
			okShape = slices.Equal(d, want[:2])
			if !okShape {
				want = want[:2]
			}
		}
		if !okShape {
			lerr.Misshaped = append(lerr.Misshaped, fmt.Sprintf("%s: %v, want %v", name, d, want))
			continue
		}
		plan[official] = name
	}
	if !ignoreUnexpected {
		for key, name := range stored {
			if !used[key] && !ignoredTensor(key) {
				lerr.Unexpected = append(lerr.Unexpected, name)
			}
		}
	}
	lerr.Sort()
	if lerr.Any() {
		return nil, lerr
	}
	return plan, nil
}
