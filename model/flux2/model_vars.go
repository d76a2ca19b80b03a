package flux2

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Model is a FLUX.2 transformer with its weights. Weights are variables of a
// GoMLX context scoped by their official module path (variable "weight" in
// scope /double_blocks/0/img_attn/qkv is "double_blocks.0.img_attn.qkv.weight");
// base weights are frozen (non-trainable). Other packages add variables of
// their own under the same tree (LoRA adapters, quantized weights) and plug
// their graph code in with Linear.
type Model struct {
	// Config is the architecture.
	Config Config
	// Variant is the variant the checkpoint was resolved to (ResolveVariant;
	// a CustomVariant for unpublished architectures, zero when the model
	// was built from a bare Config).
	Variant Variant
	// Linear computes linear layers; nil means DenseLinear. LoRA replaces
	// it with a wrapper (WrapLinear).
	Linear LinearFunc
	// Decoder materialises base weights stored in another form (quantized);
	// nil when every weight is a plain float tensor.
	Decoder WeightDecoder
	// Attention chooses the attention kernel and its block size; the zero
	// value (blocked, automatic blocks) is right almost always.
	Attention AttentionOptions
	// Memory moves weights (block swap) and saved activations to host
	// memory during a training step; the zero value keeps them on the
	// device.
	Memory MemoryOptions
	// Parallel spreads training steps over several devices; the zero value
	// uses one.
	Parallel ParallelOptions

	backend backends.Backend
	ctx     *context.Context
	// vars indexes the context's variables by official name.
	vars map[string]*context.Variable
	// programs caches compiled programs by their signature.
	programs map[string]any
	// linearTags records the installed Linear wrappers (see WrapLinear).
	linearTags map[string]bool
	// storedAs records base weights held in another form (quantized) under
	// other variable names; see MarkStored.
	storedAs map[string]bool
	// mesh is the device mesh of multi-device steps (one per device count:
	// their programs share the placed frozen weights), and placement those
	// weights.
	mesh      *distributed.DeviceMesh
	placement *frozenPlacement
}

// NewModel returns a model of the given architecture with no weights yet.
func NewModel(backend backends.Backend, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("flux2 config: %w", err)
	}
	return &Model{
		Config:   cfg,
		backend:  backend,
		ctx:      context.New().Checked(false),
		vars:     map[string]*context.Variable{},
		programs: map[string]any{},
	}, nil
}

// Backend returns the backend the model's programs run on.
func (m *Model) Backend() backends.Backend { return m.backend }

// ScopeAndName splits an official weight name into a context scope and a
// variable name: "double_blocks.0.img_attn.qkv.weight" →
// ("/double_blocks/0/img_attn/qkv", "weight").
func ScopeAndName(official string) (scope, name string) {
	i := strings.LastIndexByte(official, '.')
	if i < 0 {
		return context.RootScope, official
	}
	return "/" + strings.ReplaceAll(official[:i], ".", "/"), official[i+1:]
}

// SetVariable creates or replaces the variable of an official name with
// value. Trainable says whether optimizers update it.
func (m *Model) SetVariable(official string, value *tensors.Tensor, trainable bool) error {
	if v, ok := m.vars[official]; ok {
		if err := v.SetValue(value); err != nil {
			return fmt.Errorf("setting %s: %w", official, err)
		}
		v.SetTrainable(trainable)
		return nil
	}
	scope, name := ScopeAndName(official)
	v := m.ctx.InAbsPath(scope).VariableWithValue(name, value)
	v.SetTrainable(trainable)
	m.vars[official] = v
	m.programs = map[string]any{} // the set of weights changed
	return nil
}

// SetWeight sets a frozen base weight after checking it belongs to the
// architecture with the right shape.
func (m *Model) SetWeight(official string, value *tensors.Tensor) error {
	want, ok := m.Config.ParamShapes()[official]
	if !ok {
		return fmt.Errorf("%q is not a weight of this FLUX.2 architecture", official)
	}
	if !value.Shape().Equal(shapes.Make(value.DType(), want...)) {
		return fmt.Errorf("weight %s has shape %v, want %v", official, value.Shape().Dimensions, want)
	}
	return m.SetVariable(official, value, false)
}

// Variable returns the variable of an official name, or nil.
func (m *Model) Variable(official string) *context.Variable { return m.vars[official] }

// DeleteVariable removes a variable (e.g. an adapter being unloaded).
func (m *Model) DeleteVariable(official string) error {
	v, ok := m.vars[official]
	if !ok {
		return nil
	}
	delete(m.vars, official)
	m.programs = map[string]any{}
	return m.ctx.DeleteVariable(v.Scope(), v.Name())
}

// VariableNames returns the official names of all variables, sorted.
func (m *Model) VariableNames() []string { return slices.Sorted(maps.Keys(m.vars)) }

// TrainableNames returns the official names of the trainable variables, sorted.
func (m *Model) TrainableNames() []string {
	var names []string
	for _, n := range m.VariableNames() {
		if m.vars[n].Trainable {
			names = append(names, n)
		}
	}
	return names
}

// MarkStored records that a base weight is held in another form (e.g.
// quantized variables that a Linear wrapper reads) instead of its own
// variable, so MissingWeights does not report it.
func (m *Model) MarkStored(official string) {
	if m.storedAs == nil {
		m.storedAs = map[string]bool{}
	}
	m.storedAs[official] = true
}

// MissingWeights lists base weights of the architecture without a value.
func (m *Model) MissingWeights() []string {
	var missing []string
	for _, n := range m.Config.ParamNames() {
		if _, ok := m.vars[n]; !ok && !m.storedAs[n] {
			missing = append(missing, n)
		}
	}
	return missing
}

// value returns the current tensor of a variable.
func (m *Model) value(official string) (*tensors.Tensor, error) {
	v, ok := m.vars[official]
	if !ok {
		return nil, fmt.Errorf("flux2: no variable %q", official)
	}
	return v.Value()
}

// WrapLinear installs a wrapper around the model's linear layers once per
// tag (idempotent): LoRA adds its slots with tag "lora". Wrappers compose
// in install order. (Quantized base weights need no wrapper: Decoder
// materialises them inside whatever Linear runs.)
func (m *Model) WrapLinear(tag string, wrap func(LinearFunc) LinearFunc) {
	if m.linearTags == nil {
		m.linearTags = map[string]bool{}
	}
	if m.linearTags[tag] {
		return
	}
	m.linearTags[tag] = true
	base := m.Linear
	if base == nil {
		base = DenseLinear
	}
	m.Linear = wrap(base)
	m.programs = map[string]any{}
}

// SetBaseTrainable makes every base weight trainable (full fine-tuning) or
// frozen again. The weights must be held as plain tensors (not quantized).
func (m *Model) SetBaseTrainable(trainable bool) error {
	for _, n := range m.Config.ParamNames() {
		v, ok := m.vars[n]
		if !ok {
			return fmt.Errorf("flux2: weight %s is not held as a plain tensor (quantized or missing): full training needs every weight in float", n)
		}
		v.SetTrainable(trainable)
	}
	m.programs = map[string]any{} // the trainable set changed
	return nil
}
