package train

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// AdafactorConfig configures Adafactor (Shazeer & Stern, "Adafactor:
// Adaptive Learning Rates with Sublinear Memory Cost") as
// transformers.optimization.Adafactor implements it. DefaultAdafactorConfig
// is the manual-lr setup ai-toolkit and OneTrainer default to
// (relative_step, scale_parameter and warmup_init off); transformers' own
// defaults turn relative_step and scale_parameter on.
type AdafactorConfig struct {
	// RelativeStep replaces the scheduled lr by Adafactor's own step size
	// min(1e-2, 1/√t) (1e-6·t instead of 1e-2 with WarmupInit); the
	// trainer's lr is then not used.
	RelativeStep bool
	// ScaleParameter multiplies the step size by max(Eps2, RMS(p)).
	ScaleParameter bool
	// WarmupInit ramps the relative step size from 1e-6 (needs RelativeStep).
	WarmupInit bool
	// ClipThreshold caps the RMS of each update (1.0).
	ClipThreshold float64
	// DecayRate sets the second-moment decay β2(t) = 1 − t^DecayRate (−0.8).
	DecayRate float64
	// Beta1 > 0 keeps a first moment (transformers' beta1; 0 is None).
	Beta1 float64
	// Eps1 is added to g² (1e-30), Eps2 the floor of the parameter scale
	// (1e-3).
	Eps1, Eps2 float64
}

// DefaultAdafactorConfig returns transformers' Adafactor settings with a
// manual (scheduled) learning rate.
func DefaultAdafactorConfig() AdafactorConfig {
	return AdafactorConfig{ClipThreshold: 1, DecayRate: -0.8, Eps1: 1e-30, Eps2: 1e-3}
}

// Validate checks the settings.
func (c AdafactorConfig) Validate() error {
	switch {
	case c.WarmupInit && !c.RelativeStep:
		return fmt.Errorf("adafactor: warmup_init needs relative_step (as in transformers)")
	case !(c.ClipThreshold > 0) || math.IsInf(c.ClipThreshold, 0):
		return fmt.Errorf("adafactor: clip_threshold must be > 0 (1.0 is typical), got %g", c.ClipThreshold)
	case !(c.DecayRate < 0 && c.DecayRate >= -1):
		return fmt.Errorf("adafactor: decay_rate must be in [-1, 0) (-0.8 is typical), got %g", c.DecayRate)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("adafactor: beta1 must be in [0, 1) (0: no first moment), got %g", c.Beta1)
	case !(c.Eps1 > 0 && c.Eps1 < 1):
		return fmt.Errorf("adafactor: eps1 must be in (0, 1) (1e-30 is typical), got %g", c.Eps1)
	case !(c.Eps2 > 0 && c.Eps2 < 1):
		return fmt.Errorf("adafactor: eps2 must be in (0, 1) (1e-3 is typical), got %g", c.Eps2)
	}
	return nil
}

// stepSize returns the relative (or external) step size of update t
// (1-based) before parameter scaling, and β2(t).
func (c AdafactorConfig) stepSize(t int, lr float64) (rel, beta2t float64) {
	rel = lr
	if c.RelativeStep {
		minStep := 1e-2
		if c.WarmupInit {
			minStep = 1e-6 * float64(t)
		}
		rel = math.Min(minStep, 1/math.Sqrt(float64(t)))
	}
	return rel, 1 - math.Pow(float64(t), c.DecayRate)
}

// Adafactor keeps, for a matrix gradient g of shape [.., R, C], running
// means of g² + ε1 over its rows and columns (R + C numbers instead of R·C)
// and for other shapes the full running mean v, with β2(t) = 1 − t^decay:
//
//	u = g/√v̂,  v̂ = row·col/mean(row)  (factored)  or v  (not)
//	u ← u / max(1, RMS(u)/clip);  α = rel(t)·max(ε2, RMS(p)) or rel(t)
//	m ← β1·m + (1−β1)·α·u  (with β1, then u = m; else u = α·u)
//	p ← p − wd·α·p − u
//
// where g is the (clipped) gradient and rel(t) the scheduled lr or the
// relative step size.
type Adafactor struct {
	cfg     OptimizerConfig
	backend backends.Backend
	names   []string
	dims    [][]int
	// Per parameter: row and col (factored) or v, and m with Beta1 > 0.
	row, col, v, m []*tensors.Tensor
	// Step counts the updates applied.
	Step int
	exec *Exec
}

// factored reports whether a parameter of dims gets a factored second
// moment (rank ≥ 2, as in transformers).
func factored(dims []int) bool { return len(dims) >= 2 }

// NewAdafactor creates Adafactor's state for parameters with the given
// names and shapes (all float32).
func NewAdafactor(backend backends.Backend, cfg OptimizerConfig, names []string, dims [][]int) (*Adafactor, error) {
	if len(names) != len(dims) || len(names) == 0 {
		return nil, fmt.Errorf("adafactor: %d names for %d shapes", len(names), len(dims))
	}
	cfg.Name = OptimizerAdafactor
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Adafactor{cfg: cfg, backend: backend, names: append([]string(nil), names...), dims: dims}
	zeros := func(d ...int) *tensors.Tensor { return tensors.FromShape(shapes.Make(dtypes.Float32, d...)) }
	for _, d := range dims {
		var row, col, v, m *tensors.Tensor
		if factored(d) {
			r := len(d)
			row = zeros(d[:r-1]...)
			col = zeros(append(append([]int(nil), d[:r-2]...), d[r-1])...)
		} else {
			v = zeros(d...)
		}
		if cfg.Adafactor.Beta1 > 0 {
			m = zeros(d...)
		}
		o.row, o.col, o.v, o.m = append(o.row, row), append(o.col, col), append(o.v, v), append(o.m, m)
	}
	return o, nil
}

// Names returns the parameter names in update order.
func (o *Adafactor) Names() []string { return o.names }

// Steps returns the number of updates applied.
func (o *Adafactor) Steps() int { return o.Step }

// tensorsOf lists parameter i's state tensors (pointers to them) with
// their names.
func (o *Adafactor) tensorsOf(i int) ([]string, []**tensors.Tensor) {
	k := strconv.Itoa(i)
	var names []string
	var ts []**tensors.Tensor
	if factored(o.dims[i]) {
		names, ts = append(names, "row."+k, "col."+k), append(ts, &o.row[i], &o.col[i])
	} else {
		names, ts = append(names, "v."+k), append(ts, &o.v[i])
	}
	if o.cfg.Adafactor.Beta1 > 0 {
		names, ts = append(names, "m."+k), append(ts, &o.m[i])
	}
	return names, ts
}

// State returns row.i and col.i (factored) or v.i, and m.i with a first
// moment, of parameter i.
func (o *Adafactor) State() *OptimizerState {
	st := &OptimizerState{Step: o.Step}
	for i := range o.names {
		names, ts := o.tensorsOf(i)
		st.Names = append(st.Names, names...)
		for _, t := range ts {
			st.Tensors = append(st.Tensors, *t)
		}
	}
	return st
}

// StateNames lists the names of State's tensors.
func (o *Adafactor) StateNames() []string { return o.State().Names }

// SetState restores a state returned by State.
func (o *Adafactor) SetState(st *OptimizerState) error {
	if err := stateCheck("adafactor", st, o.State()); err != nil {
		return err
	}
	j := 0
	for i := range o.names {
		_, ts := o.tensorsOf(i)
		for _, t := range ts {
			*t = st.Tensors[j]
			j++
		}
	}
	o.Step = st.Step
	return nil
}

// Update applies one step (see Optimizer).
func (o *Adafactor) Update(params, grads []*tensors.Tensor, lr, gradScale float64) (*UpdateResult, error) {
	n := len(o.names)
	if err := prepareUpdate("adafactor", &o.exec, o.backend, o.graph, n, params, grads); err != nil {
		return nil, err
	}
	rel, beta2t := o.cfg.Adafactor.stepSize(o.Step+1, lr)
	args := []any{float32(gradScale), rel, beta2t}
	for i := 0; i < n; i++ {
		args = append(args, params[i], grads[i])
		_, ts := o.tensorsOf(i)
		for _, t := range ts {
			args = append(args, *t)
		}
	}
	outs, err := o.exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("adafactor update: %w", err)
	}
	res := &UpdateResult{GradNorm: float64(tensors.ToScalar[float32](outs[0]))}
	outs = outs[1:]
	for i := 0; i < n; i++ {
		res.Params = append(res.Params, outs[0])
		_, ts := o.tensorsOf(i)
		for j, t := range ts {
			*t = outs[1+j]
		}
		outs = outs[1+len(ts):]
	}
	o.Step++
	return res, nil
}

// graph builds the update program. Inputs: gradScale (float32), the step
// size rel and β2(t) (float64), then per parameter p, g and its state
// tensors (tensorsOf order). Outputs: the gradient norm, then per parameter
// p' and the new state tensors.
func (o *Adafactor) graph(in []*Node) []*Node {
	gradScale, rel64, beta2t64 := in[0], in[1], in[2]
	ac := o.cfg.Adafactor
	rest := in[3:]
	type param struct{ p, g, row, col, v, m *Node }
	ps := make([]param, len(o.names))
	raw := make([]*Node, len(o.names))
	for i := range ps {
		p := param{p: rest[0], g: rest[1]}
		rest = rest[2:]
		if factored(o.dims[i]) {
			p.row, p.col, rest = rest[0], rest[1], rest[2:]
		} else {
			p.v, rest = rest[0], rest[1:]
		}
		if ac.Beta1 > 0 {
			p.m, rest = rest[0], rest[1:]
		}
		ps[i], raw[i] = p, p.g
	}
	grads, norm := clippedGrads(gradScale, raw, o.cfg.MaxGradNorm)
	f32 := func(x *Node) *Node { return ConvertDType(x, dtypes.Float32) }
	rel, b2t := f32(rel64), f32(beta2t64)
	oneMinusB2t := f32(OneMinus(beta2t64))
	rms := func(x *Node) *Node {
		return DivScalar(Sqrt(ReduceAllSum(Square(x))), math.Sqrt(float64(x.Shape().Size())))
	}
	outs := []*Node{norm}
	for i, pr := range ps {
		g, p := grads[i], pr.p
		alpha := rel
		if ac.ScaleParameter {
			alpha = Mul(Max(rms(p), Scalar(g.Graph(), dtypes.Float32, ac.Eps2)), rel)
		}
		sq := AddScalar(Square(g), ac.Eps1)
		var u *Node
		var state []*Node
		if r := g.Rank(); factored(o.dims[i]) {
			row := Add(Mul(pr.row, b2t), Mul(ReduceMean(sq, r-1), oneMinusB2t))
			col := Add(Mul(pr.col, b2t), Mul(ReduceMean(sq, r-2), oneMinusB2t))
			rFactor := InsertAxes(Rsqrt(Div(row, InsertAxes(ReduceMean(row, r-2), r-2))), r-1)
			cFactor := InsertAxes(Rsqrt(col), r-2)
			u = Mul(Mul(rFactor, cFactor), g)
			state = append(state, row, col)
		} else {
			v := Add(Mul(pr.v, b2t), Mul(sq, oneMinusB2t))
			u = Mul(Rsqrt(v), g)
			state = append(state, v)
		}
		u = Div(u, Max(DivScalar(rms(u), ac.ClipThreshold), ScalarOne(g.Graph(), dtypes.Float32)))
		u = Mul(u, alpha)
		if ac.Beta1 > 0 {
			m := Add(MulScalar(pr.m, ac.Beta1), MulScalar(u, 1-ac.Beta1))
			state = append(state, m)
			u = m
		}
		if wd := o.cfg.WeightDecay; wd != 0 {
			p = Add(p, Mul(p, MulScalar(alpha, -wd)))
		}
		outs = append(outs, Sub(p, u))
		outs = append(outs, state...)
	}
	return outs
}
