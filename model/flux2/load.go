package flux2

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/tensorload"
)

// TensorSource is a set of named tensors read one at a time (a safetensors
// checkpoint: model/weights implements it; see tensorload.Source) that can
// also read a tensor in its stored dtype.
type TensorSource interface {
	tensorload.Source
	// Tensor reads a tensor in its stored dtype.
	Tensor(name string) (*tensors.Tensor, error)
}

// readTensor reads name as dtype, or as stored when dtype is InvalidDType;
// only float weights are accepted as stored.
func readTensor(src TensorSource, name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	if dtype != dtypes.InvalidDType {
		return src.ReadAs(name, dtype)
	}
	t, err := src.Tensor(name)
	if err != nil {
		return nil, err
	}
	switch t.DType() {
	case dtypes.Float32, dtypes.BFloat16, dtypes.Float16, dtypes.Float64:
		return t, nil
	}
	t.FinalizeAll()
	return nil, fmt.Errorf("tensor %s is stored as %s, not a float type (fp8 checkpoints load through quantization: model.quantize fp8)", name, t.DType())
}

// Layout is a transformer checkpoint naming scheme (tensorload.Layout).
type Layout = tensorload.Layout

const (
	// LayoutOfficial is Black Forest Labs' single-file naming (flux2-dev.safetensors).
	LayoutOfficial = tensorload.LayoutOfficial
	// LayoutDiffusers is the diffusers transformer folder naming.
	LayoutDiffusers = tensorload.LayoutDiffusers
)

// layoutRule tells the transformer's naming schemes apart.
var layoutRule = tensorload.LayoutRule{
	Part:     "FLUX.2 transformer",
	Prefixes: OfficialPrefixes,
	Official: func(n string) bool {
		return strings.HasPrefix(n, "double_blocks.") || strings.HasPrefix(n, "single_blocks.") || n == "img_in.weight"
	},
	Diffusers: func(n string) bool {
		return strings.HasPrefix(n, "transformer_blocks.") || strings.HasPrefix(n, "single_transformer_blocks.") || n == "x_embedder.weight"
	},
	OfficialHint:  "double_blocks.*",
	DiffusersHint: "transformer_blocks.*",
}

// DetectLayout tells which naming scheme the tensor names use.
func DetectLayout(names []string) (Layout, error) { return layoutRule.Detect(names) }

var (
	reOfficialDouble = regexp.MustCompile(`^double_blocks\.(\d+)\.`)
	reOfficialSingle = regexp.MustCompile(`^single_blocks\.(\d+)\.`)
	reDiffDouble     = regexp.MustCompile(`^transformer_blocks\.(\d+)\.`)
	reDiffSingle     = regexp.MustCompile(`^single_transformer_blocks\.(\d+)\.`)
)

// InferConfig reads the architecture off the tensor shapes. FLUX.2 models
// split the head dims equally between the four RoPE axes and use θ = 2000.
func InferConfig(src TensorSource, layout Layout) (Config, error) {
	names := map[string]string{} // canonical → stored
	for _, n := range src.Names() {
		names[stripOfficialPrefix(n)] = n
	}
	dims := func(official, diffusers string) ([]int, error) {
		key := official
		if layout == LayoutDiffusers {
			key = diffusers
		}
		stored, ok := names[key]
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing", key)
		}
		d, _ := src.Dims(stored)
		return d, nil
	}
	var c Config
	in, err := dims("img_in.weight", "x_embedder.weight")
	if err != nil {
		return c, err
	}
	txt, err := dims("txt_in.weight", "context_embedder.weight")
	if err != nil {
		return c, err
	}
	if len(in) != 2 || len(txt) != 2 {
		return c, fmt.Errorf("input projections must be 2-D, got %v and %v", in, txt)
	}
	c.Hidden, c.InChannels, c.ContextDim = in[0], in[1], txt[1]
	reD, reS := reOfficialDouble, reOfficialSingle
	if layout == LayoutDiffusers {
		reD, reS = reDiffDouble, reDiffSingle
	}
	for n := range names {
		if m := reD.FindStringSubmatch(n); m != nil {
			i, _ := strconv.Atoi(m[1])
			c.Depth = max(c.Depth, i+1)
		}
		if m := reS.FindStringSubmatch(n); m != nil {
			i, _ := strconv.Atoi(m[1])
			c.DepthSingle = max(c.DepthSingle, i+1)
		}
	}
	var qn []int
	switch {
	case c.Depth > 0:
		qn, err = dims("double_blocks.0.img_attn.norm.query_norm.scale", "transformer_blocks.0.attn.norm_q.weight")
	case c.DepthSingle > 0:
		qn, err = dims("single_blocks.0.norm.query_norm.scale", "single_transformer_blocks.0.attn.norm_q.weight")
	default:
		return c, errors.New("checkpoint has no transformer blocks")
	}
	if err != nil {
		return c, err
	}
	if len(qn) != 1 || qn[0] <= 0 || c.Hidden%qn[0] != 0 || qn[0]%8 != 0 {
		return c, fmt.Errorf("query-norm scale %v does not give a head dim dividing hidden size %d", qn, c.Hidden)
	}
	hd := qn[0]
	c.NumHeads = c.Hidden / hd
	c.AxesDim = [4]int{hd / 4, hd / 4, hd / 4, hd / 4}
	c.Theta = 2000
	var mlpRows int
	if c.Depth > 0 {
		d, err := dims("double_blocks.0.img_mlp.0.weight", "transformer_blocks.0.ff.linear_in.weight")
		if err != nil {
			return c, err
		}
		mlpRows = d[0] / 2
	} else {
		d, err := dims("single_blocks.0.linear1.weight", "single_transformer_blocks.0.attn.to_qkv_mlp_proj.weight")
		if err != nil {
			return c, err
		}
		mlpRows = (d[0] - 3*c.Hidden) / 2
	}
	c.MLPRatio = float64(mlpRows) / float64(c.Hidden)
	_, c.GuidanceEmbed = names["guidance_in.in_layer.weight"]
	if layout == LayoutDiffusers {
		_, c.GuidanceEmbed = names["time_guidance_embed.guidance_embedder.linear_1.weight"]
	}
	return c, c.Validate()
}

// MatchVariants returns the names of the published variants with exactly
// this architecture (distilled and base variants share one), or nil.
func MatchVariants(c Config) []string {
	var out []string
	for _, v := range Variants {
		if v.Config == c {
			out = append(out, v.Name)
		}
	}
	return out
}

// LoadOptions tune loading.
type LoadOptions struct {
	// DType converts every weight to this dtype while loading (BFloat16 on
	// GPUs, Float32 for exact CPU work). InvalidDType keeps the file's.
	DType dtypes.DType
	// Variant, when set (not "" or "auto"), must match the checkpoint's
	// architecture; it also names the model (see ResolveVariant).
	Variant string
	// IgnoreUnexpected skips tensors that are not FLUX.2 weights instead of
	// reporting them.
	IgnoreUnexpected bool
	// Config overrides shape inference (e.g. from a diffusers config.json).
	Config *Config
	// Store, when set, receives every base weight as it is read instead of
	// Model.SetWeight — quantization stores its own variables and frees the
	// float tensor, so the full-precision model is never held.
	Store func(m *Model, official string, t *tensors.Tensor) error
}

// LoadError lists every problem found in a checkpoint at once.
type LoadError struct {
	Source string
	tensorload.Problems
}

// Error lists the problems under the checkpoint's name.
func (e *LoadError) Error() string {
	return e.Report(e.Source, "FLUX.2 transformer", tensorload.DefaultLabels)
}

// LoadFrom builds a Model from a tensor source in either layout, streaming
// one tensor at a time into frozen variables. All missing, unexpected and
// mis-shaped tensors are reported together in a *LoadError.
func LoadFrom(backend backends.Backend, src TensorSource, sourceName string, opts LoadOptions) (*Model, error) {
	layout, cfg, err := tensorload.LayoutAndConfig(src, sourceName, layoutRule, opts.Config, InferConfig)
	if err != nil {
		return nil, err
	}
	variant, err := ResolveVariant(cfg, opts.Variant, sourceName)
	if err != nil {
		return nil, err
	}
	plan, lerr := planLoad(cfg, src, layout, opts.IgnoreUnexpected)
	if lerr != nil {
		lerr.Source = sourceName
		return nil, lerr
	}
	m, err := NewModel(backend, cfg)
	if err != nil {
		return nil, err
	}
	m.Variant = variant
	for _, official := range cfg.ParamNames() {
		t, err := plan.read(src, official, opts.DType)
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", sourceName, official, err)
		}
		store := (*Model).SetWeight
		if opts.Store != nil {
			store = opts.Store
		}
		if err := store(m, official, t); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", sourceName, official, err)
		}
	}
	return m, nil
}

// loadPlan maps official names to the stored tensors that make them.
type loadPlan struct {
	sources map[string]diffusersSource // official → stored parts (stored names)
}

func planLoad(cfg Config, src TensorSource, layout Layout, ignoreUnexpected bool) (*loadPlan, *LoadError) {
	stored := tensorload.StoredNames(src.Names(), layout, OfficialPrefixes) // canonical → stored
	used := map[string]bool{}
	plan := &loadPlan{sources: map[string]diffusersSource{}}
	lerr := &LoadError{}
	for _, official := range cfg.ParamNames() {
		want := cfg.ParamShapes()[official]
		s := diffusersSource{Parts: []string{official}}
		if layout == LayoutDiffusers {
			var err error
			if s, err = DiffusersSource(official); err != nil {
				lerr.Missing = append(lerr.Missing, official)
				continue
			}
		}
		partRows := want[0] / len(s.Parts)
		ok := true
		for i, p := range s.Parts {
			name, found := stored[p]
			if !found {
				lerr.Missing = append(lerr.Missing, p)
				ok = false
				continue
			}
			used[p] = true
			s.Parts[i] = name
			d, _ := src.Dims(name)
			wantPart := append([]int{partRows}, want[1:]...)
			if !slices.Equal(d, wantPart) {
				lerr.Misshaped = append(lerr.Misshaped, fmt.Sprintf("%s: %v, want %v", name, d, wantPart))
				ok = false
			}
		}
		if ok {
			plan.sources[official] = s
		}
	}
	if !ignoreUnexpected {
		for key, name := range stored {
			if !used[key] {
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

// read builds one official weight: a plain read, a row concatenation of
// diffusers' split q/k/v, or the half swap of the final adaLN weight.
func (p *loadPlan) read(src TensorSource, official string, dtype dtypes.DType) (*tensors.Tensor, error) {
	s := p.sources[official]
	if len(s.Parts) == 1 && !s.SwapHalves {
		return readTensor(src, s.Parts[0], dtype)
	}
	parts := make([]*tensors.Tensor, len(s.Parts))
	for i, name := range s.Parts {
		t, err := readTensor(src, name, dtype)
		if err != nil {
			return nil, err
		}
		parts[i] = t
	}
	if s.SwapHalves {
		return swapRowHalves(parts[0])
	}
	return concatRows(parts)
}

// concatRows concatenates tensors along their first axis, byte-wise.
func concatRows(parts []*tensors.Tensor) (*tensors.Tensor, error) {
	first := parts[0].Shape()
	rows := 0
	for _, p := range parts {
		if p.DType() != first.DType || !slices.Equal(p.Shape().Dimensions[1:], first.Dimensions[1:]) {
			return nil, fmt.Errorf("cannot concatenate %v with %v", p.Shape(), first)
		}
		rows += p.Shape().Dimensions[0]
	}
	dims := append([]int{rows}, first.Dimensions[1:]...)
	out := tensors.FromShape(shapes.Make(first.DType, dims...))
	out.MutableBytes(func(dst []byte) {
		off := 0
		for _, p := range parts {
			p.ConstBytes(func(src []byte) { off += copy(dst[off:], src) })
		}
	})
	for _, p := range parts {
		p.FinalizeAll()
	}
	return out, nil
}

// swapRowHalves exchanges the first and second halves of the rows.
func swapRowHalves(t *tensors.Tensor) (*tensors.Tensor, error) {
	dims := t.Shape().Dimensions
	if len(dims) == 0 || dims[0]%2 != 0 {
		return nil, fmt.Errorf("cannot swap row halves of %v", dims)
	}
	out := tensors.FromShape(t.Shape())
	out.MutableBytes(func(dst []byte) {
		t.ConstBytes(func(src []byte) {
			half := len(src) / 2
			copy(dst, src[half:])
			copy(dst[half:], src[:half])
		})
	})
	t.FinalizeAll()
	return out, nil
}
