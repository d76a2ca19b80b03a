package sample

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// VelocityFunc predicts the flow velocity [B, N, C] (float32) of latent
// tokens x [B, N, C] at flow time t.
type VelocityFunc func(x *tensors.Tensor, t float64) (*tensors.Tensor, error)

// StepFunc is called after each Euler step with the 1-based step number.
type StepFunc func(step, total int)

// Euler integrates the flow from schedule[0] down to schedule[len−1]:
// x ← x + (t_next − t_cur)·v(x, t_cur), in float32, one model evaluation per
// step. x is [B, N, C] float32 noise at the start; the result is the clean
// latent.
func Euler(x *tensors.Tensor, schedule []float64, velocity VelocityFunc, onStep StepFunc) (*tensors.Tensor, error) {
	if len(schedule) < 2 {
		return nil, fmt.Errorf("schedule needs at least 2 times, got %d", len(schedule))
	}
	cur, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		return nil, fmt.Errorf("sampler input: %w", err)
	}
	dims := x.Shape().Dimensions
	steps := len(schedule) - 1
	for i := 0; i < steps; i++ {
		xt := tensors.FromFlatDataAndDimensions(cur, dims...)
		v, err := velocity(xt, schedule[i])
		if err != nil {
			return nil, fmt.Errorf("step %d/%d: %w", i+1, steps, err)
		}
		vs, err := tensors.CopyFlatData[float32](v)
		if err != nil {
			return nil, fmt.Errorf("step %d/%d: %w", i+1, steps, err)
		}
		if len(vs) != len(cur) {
			return nil, fmt.Errorf("step %d/%d: velocity has %d values, latent %d", i+1, steps, len(vs), len(cur))
		}
		dt := float32(schedule[i+1] - schedule[i])
		next := make([]float32, len(cur))
		for j := range cur {
			next[j] = cur[j] + dt*vs[j]
		}
		cur = next
		if onStep != nil {
			onStep(i+1, steps)
		}
	}
	return tensors.FromFlatDataAndDimensions(cur, dims...), nil
}

// CFG combines unconditional and conditional velocities with classifier-free
// guidance: v = v_u + g·(v_c − v_u).
func CFG(uncond, cond *tensors.Tensor, guidance float64) (*tensors.Tensor, error) {
	u, err := tensors.CopyFlatData[float32](uncond)
	if err != nil {
		return nil, err
	}
	c, err := tensors.CopyFlatData[float32](cond)
	if err != nil {
		return nil, err
	}
	if len(u) != len(c) {
		return nil, fmt.Errorf("CFG: unconditional has %d values, conditional %d", len(u), len(c))
	}
	g := float32(guidance)
	out := make([]float32, len(u))
	for i := range u {
		out[i] = u[i] + g*(c[i]-u[i])
	}
	return tensors.FromFlatDataAndDimensions(out, cond.Shape().Dimensions...), nil
}
