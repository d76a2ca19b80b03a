package train

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ProdigyConfig configures Prodigy (Mishchenko & Defazio, "Prodigy: An
// Expeditiously Adaptive Parameter-Free Learner"), as the prodigyopt package
// implements it. Its zero value is prodigyopt's defaults except D0 and
// DCoef, which DefaultProdigyConfig sets.
type ProdigyConfig struct {
	// D0 is the initial estimate of the distance to the solution
	// (prodigyopt d0, 1e-6).
	D0 float64
	// DCoef scales the estimate of d (prodigyopt d_coef, 1.0); the
	// preferred knob to tune (0.5 to 2 typical).
	DCoef float64
	// Beta3 is the decay of the d estimate's running sums (prodigyopt
	// beta3); 0 means √β2.
	Beta3 float64
	// GrowthRate bounds d's growth per step (prodigyopt growth_rate, 1.02
	// gives a warmup-like ramp); 0 means unlimited (prodigyopt's inf).
	GrowthRate float64
	// UseBiasCorrection applies Adam's bias correction to the step size
	// (prodigyopt use_bias_correction, off).
	UseBiasCorrection bool
	// SafeguardWarmup leaves lr out of the d estimate's denominator
	// (prodigyopt safeguard_warmup, off; on is advised with lr warmup).
	SafeguardWarmup bool
	// CoupledWeightDecay adds weight decay to the gradient (L2, prodigyopt
	// decouple=False) instead of decaying the weights by wd·d·lr
	// (decouple=True, the default).
	CoupledWeightDecay bool
}

// DefaultProdigyConfig returns prodigyopt's defaults.
func DefaultProdigyConfig() ProdigyConfig { return ProdigyConfig{D0: 1e-6, DCoef: 1} }

// Validate checks the settings.
func (c ProdigyConfig) Validate() error {
	switch {
	case !(c.D0 > 0) || math.IsInf(c.D0, 0):
		return fmt.Errorf("prodigy: d0 must be > 0 (1e-6 is prodigyopt's default), got %g", c.D0)
	case !(c.DCoef > 0) || math.IsInf(c.DCoef, 0):
		return fmt.Errorf("prodigy: d_coef must be > 0 (1.0 is prodigyopt's default), got %g", c.DCoef)
	case !(c.Beta3 >= 0 && c.Beta3 < 1):
		return fmt.Errorf("prodigy: beta3 must be in [0, 1) (0 means sqrt(beta2)), got %g", c.Beta3)
	case c.GrowthRate != 0 && !(c.GrowthRate >= 1):
		return fmt.Errorf("prodigy: growth rate must be >= 1 or 0 (unlimited), got %g", c.GrowthRate)
	}
	return nil
}

// beta3 returns β3, √β2 when unset.
func (c ProdigyConfig) beta3(beta2 float64) float64 {
	if c.Beta3 == 0 {
		return math.Sqrt(beta2)
	}
	return c.Beta3
}

// Prodigy is Adam with a step size d·lr that it estimates itself (lr ≈ 1).
// With g the (clipped) gradient, p0 the initial weights and, per step,
// dlr = d·lr (× √(1−β2^k)/(1−β1^k) with bias correction):
//
//	m ← β1·m + d(1−β1)·g;  v ← β2·v + d²(1−β2)·g²
//	s ← β3·s + (d/d0)·dlr·g;  r ← β3·r + (d/d0)·dlr·⟨g, p0 − p⟩
//	d̂ = d_coef·r/Σ|s|;  d_max ← max(d_max, d̂);  d ← min(d_max, d·growth)
//	p ← p − dlr·wd·p − dlr·m/(√v + d·ε)
//
// (the first step keeps d ≥ d0; with safeguard warmup s adds (d/d0)·d·g).
// The scalars d, d_max and r are float64, as prodigyopt keeps them; the
// tensors float32. A step whose Σ|s| is 0 (all-zero gradients, or lr = 0)
// leaves the weights, d and the step counter as they were, like prodigyopt.
type Prodigy struct {
	cfg     OptimizerConfig
	backend backends.Backend
	names   []string
	dims    [][]int
	// m, v, s and p0 per parameter (p0 nil until the first update).
	m, v, s, p0 []*tensors.Tensor
	// d is the step size estimate, dMax its running maximum, dNum the
	// numerator r of d̂.
	d, dMax, dNum float64
	// Step counts the updates applied (prodigyopt's k).
	Step int
	exec *Exec
}

// NewProdigy creates Prodigy's state for parameters with the given names
// and shapes (all float32).
func NewProdigy(backend backends.Backend, cfg OptimizerConfig, names []string, dims [][]int) (*Prodigy, error) {
	if len(names) != len(dims) || len(names) == 0 {
		return nil, fmt.Errorf("prodigy: %d names for %d shapes", len(names), len(dims))
	}
	cfg.Name = OptimizerProdigy
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Prodigy{cfg: cfg, backend: backend, names: append([]string(nil), names...), dims: dims,
		d: cfg.Prodigy.D0, dMax: cfg.Prodigy.D0}
	for _, d := range dims {
		for _, st := range []*[]*tensors.Tensor{&o.m, &o.v, &o.s} {
			*st = append(*st, tensors.FromShape(shapes.Make(dtypes.Float32, d...)))
		}
	}
	o.p0 = make([]*tensors.Tensor, len(dims))
	return o, nil
}

// Names returns the parameter names in update order.
func (o *Prodigy) Names() []string { return o.names }

// Steps returns the number of updates applied.
func (o *Prodigy) Steps() int { return o.Step }

// D returns the current step size estimate d.
func (o *Prodigy) D() float64 { return o.d }

// State returns m.i, v.i, s.i and p0.i of parameter i and the scalars d,
// d_max and d_numerator (p0_set is 0 before the first update, when p0 is
// not known yet and saved as zeros).
func (o *Prodigy) State() *OptimizerState {
	st := &OptimizerState{Step: o.Step, Scalars: map[string]float64{"d": o.d, "d_max": o.dMax, "d_numerator": o.dNum, "p0_set": 1}}
	for i := range o.names {
		k := strconv.Itoa(i)
		p0 := o.p0[i]
		if p0 == nil {
			p0 = tensors.FromShape(shapes.Make(dtypes.Float32, o.dims[i]...))
			st.Scalars["p0_set"] = 0
		}
		st.Names = append(st.Names, "m."+k, "v."+k, "s."+k, "p0."+k)
		st.Tensors = append(st.Tensors, o.m[i], o.v[i], o.s[i], p0)
	}
	return st
}

// StateNames lists the names of State's tensors.
func (o *Prodigy) StateNames() []string {
	var out []string
	for i := range o.names {
		k := strconv.Itoa(i)
		out = append(out, "m."+k, "v."+k, "s."+k, "p0."+k)
	}
	return out
}

// SetState restores a state returned by State.
func (o *Prodigy) SetState(st *OptimizerState) error {
	if err := stateCheck("prodigy", st, o.State()); err != nil {
		return err
	}
	for _, k := range []string{"d", "d_max", "d_numerator", "p0_set"} {
		if _, ok := st.Scalars[k]; !ok {
			return fmt.Errorf("prodigy state: no %s", k)
		}
	}
	for i := range o.names {
		o.m[i], o.v[i], o.s[i], o.p0[i] = st.Tensors[4*i], st.Tensors[4*i+1], st.Tensors[4*i+2], st.Tensors[4*i+3]
		if st.Scalars["p0_set"] == 0 {
			o.p0[i] = nil
		}
	}
	o.d, o.dMax, o.dNum = st.Scalars["d"], st.Scalars["d_max"], st.Scalars["d_numerator"]
	o.Step = st.Step
	return nil
}

// Update applies one step (see Optimizer).
func (o *Prodigy) Update(params, grads []*tensors.Tensor, lr, gradScale float64) (*UpdateResult, error) {
	n := len(o.names)
	if err := prepareUpdate("prodigy", &o.exec, o.backend, o.graph, n, params, grads); err != nil {
		return nil, err
	}
	for i, p := range params {
		if o.p0[i] == nil {
			c, err := p.LocalClone()
			if err != nil {
				return nil, fmt.Errorf("prodigy: keeping the initial weights: %w", err)
			}
			o.p0[i] = c
		}
	}
	bc := 1.0
	if o.cfg.Prodigy.UseBiasCorrection {
		k := float64(o.Step + 1)
		bc = math.Sqrt(1-math.Pow(o.cfg.Beta2, k)) / (1 - math.Pow(o.cfg.Beta1, k))
	}
	dlr := o.d * lr * bc
	args := []any{float32(gradScale), lr, o.d, dlr, o.dNum, o.dMax}
	for i := 0; i < n; i++ {
		args = append(args, params[i], grads[i], o.m[i], o.v[i], o.s[i], o.p0[i])
	}
	outs, err := o.exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("prodigy update: %w", err)
	}
	res := &UpdateResult{GradNorm: float64(tensors.ToScalar[float32](outs[0]))}
	o.d, o.dMax, o.dNum = tensors.ToScalar[float64](outs[1]), tensors.ToScalar[float64](outs[2]), tensors.ToScalar[float64](outs[3])
	if !tensors.ToScalar[bool](outs[4]) {
		o.Step++
	}
	outs = outs[5:]
	for i := 0; i < n; i++ {
		res.Params = append(res.Params, outs[4*i])
		o.m[i], o.v[i], o.s[i] = outs[4*i+1], outs[4*i+2], outs[4*i+3]
	}
	return res, nil
}

// errProdigyInputs guards the graph against a wrong argument count.
var errProdigyInputs = errors.New("prodigy graph: inputs are not 6 + 6 per parameter")

// graph builds the update program. Inputs: gradScale (float32); lr, d, dlr,
// d_numerator, d_max (float64); per parameter p, g, m, v, s, p0. Outputs:
// the gradient norm, the new d, d_max, d_numerator, whether the step was
// skipped, then per parameter p', m', v', s'.
func (o *Prodigy) graph(in []*Node) []*Node {
	if (len(in)-6)%6 != 0 {
		panic(errProdigyInputs)
	}
	gradScale, lr, d, dlr, dNum, dMax := in[0], in[1], in[2], in[3], in[4], in[5]
	g := gradScale.Graph()
	rest := in[6:]
	n := len(rest) / 6
	raw := make([]*Node, n)
	for i := range raw {
		raw[i] = rest[6*i+1]
	}
	grads, norm := clippedGrads(gradScale, raw, o.cfg.MaxGradNorm)
	c, pc := o.cfg, o.cfg.Prodigy
	b1, b2, b3, wd := c.Beta1, c.Beta2, pc.beta3(c.Beta2), c.WeightDecay
	f32 := func(x *Node) *Node { return ConvertDType(x, dtypes.Float32) }
	f64 := func(x *Node) *Node { return ConvertDType(x, dtypes.Float64) }
	zero64 := ScalarZero(g, dtypes.Float64)
	// The moments and s only move when lr > 0 (prodigyopt skips groups
	// with lr 0).
	active := GreaterThan(lr, zero64)
	keep := func(newV, old *Node) *Node { return Where(BroadcastToShape(active, old.Shape()), newV, old) }
	ratio := DivScalar(d, pc.D0)
	numCoef := Mul(ratio, dlr)
	sCoef := numCoef
	if pc.SafeguardWarmup {
		sCoef = Mul(ratio, d)
	}
	mCoef := f32(MulScalar(d, 1-b1))
	vCoef := f32(MulScalar(Mul(d, d), 1-b2))
	delta, denomSum := zero64, zero64
	ms, vs, ss, gs := make([]*Node, n), make([]*Node, n), make([]*Node, n), make([]*Node, n)
	for i := 0; i < n; i++ {
		p, m, v, s, p0 := rest[6*i], rest[6*i+2], rest[6*i+3], rest[6*i+4], rest[6*i+5]
		gi := grads[i]
		if wd != 0 && pc.CoupledWeightDecay {
			gi = Add(gi, MulScalar(p, wd))
		}
		gs[i] = gi
		delta = Add(delta, Mul(numCoef, f64(ReduceAllSum(Mul(gi, Sub(p0, p))))))
		if b1 > 0 {
			ms[i] = keep(Add(MulScalar(m, b1), Mul(gi, mCoef)), m)
		} else {
			ms[i] = m
		}
		vs[i] = keep(Add(MulScalar(v, b2), Mul(Mul(gi, vCoef), gi)), v)
		ss[i] = keep(Add(MulScalar(s, b3), Mul(gi, f32(sCoef))), s)
		denomSum = Add(denomSum, f64(ReduceAllSum(Abs(ss[i]))))
	}
	dDenom := Where(active, denomSum, zero64)
	skip := Equal(dDenom, zero64)
	dNumNew := Add(MulScalar(dNum, b3), delta)
	dHat := Div(MulScalar(dNumNew, pc.DCoef), dDenom)
	dNew := Where(Equal(d, Scalar(g, dtypes.Float64, pc.D0)), Max(d, dHat), d)
	dMaxNew := Max(dMax, dHat)
	if pc.GrowthRate > 0 {
		dNew = Min(dMaxNew, MulScalar(dNew, pc.GrowthRate))
	} else {
		dNew = dMaxNew
	}
	outs := []*Node{norm, Where(skip, d, dNew), Where(skip, dMax, dMaxNew), Where(skip, dNum, dNumNew), skip}
	epsD := f32(MulScalar(dNew, c.Epsilon))
	for i := 0; i < n; i++ {
		p := rest[6*i]
		den := Add(Sqrt(vs[i]), epsD)
		pNew := p
		if wd != 0 && !pc.CoupledWeightDecay {
			pNew = Add(pNew, Mul(p, f32(MulScalar(dlr, -wd))))
		}
		if b1 > 0 {
			pNew = Add(pNew, Mul(f32(Neg(dlr)), Div(ms[i], den)))
		} else {
			pNew = Add(pNew, Mul(f32(Neg(Mul(dlr, dNew))), Div(gs[i], den)))
		}
		pNew = Where(BroadcastToShape(skip, p.Shape()), p, pNew)
		outs = append(outs, pNew, ms[i], vs[i], ss[i])
	}
	return outs
}
