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

// momentBlock is the block size of 8-bit moment quantization: one float32
// scale per 64 values.
const momentBlock = 64

// AdamW updates float32 parameters with decoupled weight decay:
//
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − lr·(m̂/(√v̂ + ε) + wd·p),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
//
// where g is the (accumulated, clipped) gradient. All parameters are updated
// by one compiled program per set of shapes.
type AdamW struct {
	cfg     AdamWConfig
	backend backends.Backend
	names   []string
	// State per parameter, in names order: m and v (float32), or for 8-bit
	// the quantized codes and per-block scales.
	m, v           []*tensors.Tensor
	mScale, vScale []*tensors.Tensor
	// Step counts the optimizer updates applied so far.
	Step int
	exec *Exec
}

// NewAdamW creates the optimizer state for parameters with the given names
// and shapes (all float32), zero-initialised.
func NewAdamW(backend backends.Backend, cfg AdamWConfig, names []string, dims [][]int) (*AdamW, error) {
	if len(names) != len(dims) || len(names) == 0 {
		return nil, fmt.Errorf("adamw: %d names for %d shapes", len(names), len(dims))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &AdamW{cfg: cfg, backend: backend, names: append([]string(nil), names...)}
	for _, d := range dims {
		if o.cfg.EightBit {
			nb := numBlocks(d)
			o.m = append(o.m, tensors.FromShape(shapes.Make(dtypes.Int8, nb, momentBlock)))
			o.v = append(o.v, tensors.FromShape(shapes.Make(dtypes.Uint8, nb, momentBlock)))
			o.mScale = append(o.mScale, tensors.FromShape(shapes.Make(dtypes.Float32, nb)))
			o.vScale = append(o.vScale, tensors.FromShape(shapes.Make(dtypes.Float32, nb)))
		} else {
			o.m = append(o.m, tensors.FromShape(shapes.Make(dtypes.Float32, d...)))
			o.v = append(o.v, tensors.FromShape(shapes.Make(dtypes.Float32, d...)))
		}
	}
	return o, nil
}

func numBlocks(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return (n + momentBlock - 1) / momentBlock
}

// Names returns the parameter names in update order.
func (o *AdamW) Names() []string { return o.names }

// Steps returns the number of updates applied.
func (o *AdamW) Steps() int { return o.Step }

// State returns the moments m.i and v.i of parameter i (and for 8-bit
// state their scales m_scale.i and v_scale.i).
func (o *AdamW) State() *OptimizerState {
	st := &OptimizerState{Step: o.Step}
	for i := range o.names {
		k := strconv.Itoa(i)
		st.Names = append(st.Names, "m."+k, "v."+k)
		st.Tensors = append(st.Tensors, o.m[i], o.v[i])
		if o.cfg.EightBit {
			st.Names = append(st.Names, "m_scale."+k, "v_scale."+k)
			st.Tensors = append(st.Tensors, o.mScale[i], o.vScale[i])
		}
	}
	return st
}

// StateNames lists the names of State's tensors.
func (o *AdamW) StateNames() []string { return o.State().Names }

// SetState restores a state returned by State.
func (o *AdamW) SetState(st *OptimizerState) error {
	if err := stateCheck("adamw", st, o.State()); err != nil {
		return err
	}
	per := 2
	if o.cfg.EightBit {
		per = 4
	}
	for i := range o.names {
		o.m[i], o.v[i] = st.Tensors[i*per], st.Tensors[i*per+1]
		if o.cfg.EightBit {
			o.mScale[i], o.vScale[i] = st.Tensors[i*per+2], st.Tensors[i*per+3]
		}
	}
	o.Step = st.Step
	return nil
}

// Update applies one step with learning rate lr to params given grads (both
// in Names order); gradScale multiplies the gradients first (1/accumulation
// steps). It returns the new parameters; the optimizer state advances.
func (o *AdamW) Update(params, grads []*tensors.Tensor, lr, gradScale float64) (*UpdateResult, error) {
	n := len(o.names)
	if err := prepareUpdate("adamw", &o.exec, o.backend, o.graph, n, params, grads); err != nil {
		return nil, err
	}
	step := o.Step + 1
	bc1 := 1 - math.Pow(o.cfg.Beta1, float64(step))
	bc2 := 1 - math.Pow(o.cfg.Beta2, float64(step))
	args := []any{float32(lr), float32(gradScale), float32(bc1), float32(bc2)}
	for i := 0; i < n; i++ {
		args = append(args, params[i], grads[i], o.m[i], o.v[i])
		if o.cfg.EightBit {
			args = append(args, o.mScale[i], o.vScale[i])
		}
	}
	outs, err := o.exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("adamw update: %w", err)
	}
	res := &UpdateResult{GradNorm: float64(tensors.ToScalar[float32](outs[0]))}
	outs = outs[1:]
	per := 3
	if o.cfg.EightBit {
		per = 5
	}
	for i := 0; i < n; i++ {
		o2 := outs[i*per:]
		res.Params = append(res.Params, o2[0])
		o.m[i], o.v[i] = o2[1], o2[2]
		if o.cfg.EightBit {
			o.mScale[i], o.vScale[i] = o2[3], o2[4]
		}
	}
	o.Step = step
	return res, nil
}

// graph builds the update program. Inputs: lr, gradScale, bias corrections
// 1−β1^t and 1−β2^t, then per parameter p, g, m, v (+ m and v scales for
// 8-bit). Outputs: the global gradient norm, then per parameter p', m', v'
// (+ scales).
func (o *AdamW) graph(inputs []*Node) []*Node {
	lr, gradScale, bc1, bc2 := inputs[0], inputs[1], inputs[2], inputs[3]
	per := 4
	if o.cfg.EightBit {
		per = 6
	}
	rest := inputs[4:]
	n := len(rest) / per
	raw := make([]*Node, n)
	for i := range raw {
		raw[i] = rest[i*per+1]
	}
	grads, norm := clippedGrads(gradScale, raw, o.cfg.MaxGradNorm)
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	outs := []*Node{norm}
	for i := 0; i < n; i++ {
		in := rest[i*per : (i+1)*per]
		p, g := in[0], grads[i]
		var m, v *Node
		if o.cfg.EightBit {
			m = dequantizeMoment(in[2], in[4], p.Shape().Dimensions, true)
			v = dequantizeMoment(in[3], in[5], p.Shape().Dimensions, false)
		} else {
			m, v = in[2], in[3]
		}
		m = Add(MulScalar(m, b1), MulScalar(g, 1-b1))
		v = Add(MulScalar(v, b2), MulScalar(Square(g), 1-b2))
		mHat, vHat := Div(m, bc1), Div(v, bc2)
		upd := Div(mHat, AddScalar(Sqrt(vHat), o.cfg.Epsilon))
		if o.cfg.WeightDecay != 0 {
			upd = Add(upd, MulScalar(p, o.cfg.WeightDecay))
		}
		p = Sub(p, Mul(upd, lr))
		if o.cfg.EightBit {
			mq, ms := quantizeMoment(m, true)
			vq, vs := quantizeMoment(v, false)
			outs = append(outs, p, mq, vq, ms, vs)
		} else {
			outs = append(outs, p, m, v)
		}
	}
	return outs
}
