package train

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Optimizer names (OptimizerConfig.Name).
const (
	OptimizerAdamW     = "adamw"
	OptimizerProdigy   = "prodigy"
	OptimizerAdafactor = "adafactor"
)

// OptimizerConfig chooses and configures the optimizer.
type OptimizerConfig struct {
	// Name is adamw (also the empty string), prodigy or adafactor.
	Name string
	// Beta1, Beta2 and Epsilon are Adam's; Prodigy uses them too (its betas
	// and eps). WeightDecay is decoupled for AdamW, as configured for
	// Prodigy (ProdigyConfig.CoupledWeightDecay) and Adafactor's own
	// (p ← p − wd·lr·p with Adafactor's step size).
	Beta1, Beta2, Epsilon, WeightDecay float64
	// MaxGradNorm clips the global gradient norm before any optimizer sees
	// the gradients, as torch.nn.utils.clip_grad_norm_ does (0 disables
	// clipping).
	MaxGradNorm float64
	// EightBit stores AdamW's moments in 8 bits per value (block-wise
	// quantized, see quantizeMoment) instead of float32.
	EightBit bool
	// Prodigy and Adafactor configure those optimizers.
	Prodigy   ProdigyConfig
	Adafactor AdafactorConfig
}

// AdamWConfig is OptimizerConfig under the name it had when AdamW was the
// only optimizer.
type AdamWConfig = OptimizerConfig

// name returns the optimizer's name with the empty string read as adamw.
func (c OptimizerConfig) name() string {
	if c.Name == "" {
		return OptimizerAdamW
	}
	return c.Name
}

// Validate checks the settings of the chosen optimizer.
func (c OptimizerConfig) Validate() error {
	for _, f := range []struct {
		what string
		v    float64
		ok   bool
	}{
		{"beta1", c.Beta1, c.Beta1 >= 0 && c.Beta1 < 1},
		{"beta2", c.Beta2, c.Beta2 >= 0 && c.Beta2 < 1},
		{"weight decay", c.WeightDecay, c.WeightDecay >= 0},
		{"max grad norm", c.MaxGradNorm, c.MaxGradNorm >= 0},
	} {
		if !f.ok || math.IsNaN(f.v) {
			return fmt.Errorf("optimizer: %s %g out of range", f.what, f.v)
		}
	}
	switch c.name() {
	case OptimizerAdamW:
		if !(c.Epsilon > 0) {
			return fmt.Errorf("adamw: epsilon must be > 0, got %g", c.Epsilon)
		}
	case OptimizerProdigy:
		if c.EightBit {
			return fmt.Errorf("prodigy: 8-bit state is AdamW's only")
		}
		if !(c.Epsilon > 0) {
			return fmt.Errorf("prodigy: epsilon must be > 0, got %g", c.Epsilon)
		}
		return c.Prodigy.Validate()
	case OptimizerAdafactor:
		if c.EightBit {
			return fmt.Errorf("adafactor: 8-bit state is AdamW's only")
		}
		return c.Adafactor.Validate()
	default:
		return fmt.Errorf("unknown optimizer %q (adamw, prodigy or adafactor)", c.Name)
	}
	return nil
}

// StateBytesPerParam is the optimizer state per trainable parameter, for
// memory plans: 8 for AdamW (m, v), 2 for 8-bit AdamW, 16 for Prodigy (m,
// v, s and the initial weights p0), 4 for Adafactor with a first moment and
// 0 without one (its factored second moment of a matrix is one value per
// row and column, which the plan's 1/16 margin covers).
func (c OptimizerConfig) StateBytesPerParam() int64 {
	switch c.name() {
	case OptimizerProdigy:
		return 16
	case OptimizerAdafactor:
		if c.Adafactor.Beta1 > 0 {
			return 4
		}
		return 0
	}
	if c.EightBit {
		return 2
	}
	return 8
}

// Optimizer updates trainable float32 weights from their gradients.
type Optimizer interface {
	// Names returns the parameter names in update order.
	Names() []string
	// Update applies one step with learning rate lr to params given grads
	// (both in Names order); gradScale multiplies the gradients first
	// (1/accumulation steps), then the global norm is clipped. It returns
	// the new parameters; the optimizer state advances.
	Update(params, grads []*tensors.Tensor, lr, gradScale float64) (*UpdateResult, error)
	// Steps returns the optimizer's step counter (the updates applied).
	Steps() int
	// State returns the optimizer's state for a checkpoint.
	State() *OptimizerState
	// SetState restores a state returned by State of an optimizer with the
	// same configuration and parameters.
	SetState(st *OptimizerState) error
	// StateNames lists the tensor names of the optimizer's State.
	StateNames() []string
}

// OptimizerState is an optimizer's state as a checkpoint keeps it.
type OptimizerState struct {
	// Step is the optimizer's step counter.
	Step int
	// Names and Tensors are the state tensors (moments, factors, …).
	Names   []string
	Tensors []*tensors.Tensor
	// Scalars are the optimizer-wide numbers (Prodigy's d), by name.
	Scalars map[string]float64
}

// UpdateResult reports one optimizer step.
type UpdateResult struct {
	// Params are the updated parameters, in Names order.
	Params []*tensors.Tensor
	// GradNorm is the global gradient norm before clipping.
	GradNorm float64
}

// NewOptimizer creates the optimizer cfg names for parameters with the
// given names and shapes (all float32), with fresh state.
func NewOptimizer(backend backends.Backend, cfg OptimizerConfig, names []string, dims [][]int) (Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.name() {
	case OptimizerProdigy:
		return NewProdigy(backend, cfg, names, dims)
	case OptimizerAdafactor:
		return NewAdafactor(backend, cfg, names, dims)
	}
	return NewAdamW(backend, cfg, names, dims)
}

// clippedGrads converts the raw gradients to float32, multiplies them by
// gradScale and clips their global norm to maxNorm (0: no clipping) the way
// torch.nn.utils.clip_grad_norm_ does: a factor min(1, max/(norm + 1e-6)).
// It returns the clipped gradients and the norm before clipping.
func clippedGrads(gradScale *Node, raw []*Node, maxNorm float64) ([]*Node, *Node) {
	g := gradScale.Graph()
	grads := make([]*Node, len(raw))
	sumSq := Scalar(g, dtypes.Float32, 0)
	for i, r := range raw {
		grads[i] = Mul(ConvertDType(r, dtypes.Float32), gradScale)
		sumSq = Add(sumSq, ReduceAllSum(Square(grads[i])))
	}
	norm := Sqrt(sumSq)
	if maxNorm > 0 {
		clip := Min(ScalarOne(g, dtypes.Float32), Div(Scalar(g, dtypes.Float32, maxNorm), AddScalar(norm, 1e-6)))
		for i := range grads {
			grads[i] = Mul(grads[i], clip)
		}
	}
	return grads, norm
}

// stateCheck checks that a checkpointed optimizer state has the tensors,
// in name, shape and dtype, of the optimizer's current state cur.
func stateCheck(what string, st *OptimizerState, cur *OptimizerState) error {
	if len(st.Tensors) != len(cur.Names) || len(st.Names) != len(cur.Names) {
		return fmt.Errorf("%s state: %d tensors, want %d", what, len(st.Tensors), len(cur.Names))
	}
	for i, n := range cur.Names {
		if st.Names[i] != n {
			return fmt.Errorf("%s state: tensor %d is %q, want %q", what, i, st.Names[i], n)
		}
		if !st.Tensors[i].Shape().Equal(cur.Tensors[i].Shape()) {
			return fmt.Errorf("%s state: %s has shape %v, want %v", what, n, st.Tensors[i].Shape(), cur.Tensors[i].Shape())
		}
	}
	return nil
}

// prepareUpdate checks an Update's arguments against the optimizer's n
// names and compiles its step program graph into *exec on first use.
func prepareUpdate(optimizer string, exec **Exec, backend backends.Backend, graph func([]*Node) []*Node, n int, params, grads []*tensors.Tensor) error {
	if len(params) != n || len(grads) != n {
		return fmt.Errorf("%s: got %d params and %d grads for %d names", optimizer, len(params), len(grads), n)
	}
	if *exec == nil {
		e, err := NewExec(backend, graph)
		if err != nil {
			return fmt.Errorf("%s: %w", optimizer, err)
		}
		*exec = e
	}
	return nil
}
