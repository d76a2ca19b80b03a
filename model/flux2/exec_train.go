package flux2

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Gradients is the result of one forward+backward pass.
type Gradients struct {
	// Loss is the scalar training loss.
	Loss float32
	// Grads holds d(loss)/d(variable) for every trainable variable, by
	// official name, in the variable's dtype.
	Grads map[string]*tensors.Tensor
}

// LossAndGradients computes the flow-matching loss of a batch and its
// gradients with respect to every trainable variable. With checkpointing
// the model runs as a sequence of per-block programs and the backward pass
// recomputes each block from its saved input (memory for one block's
// activations); without it, one program holds the whole graph. Both give the
// same numbers up to float rounding. Block swap and activation offload (see
// Model.Memory) run the block-wise programs whatever checkpointing says. On
// several devices (Model.Parallel) either way runs partitioned over them.
func (m *Model) LossAndGradients(tb *TrainBatch, dtype dtypes.DType, checkpointing bool) (*Gradients, error) {
	if missing := m.MissingWeights(); len(missing) > 0 {
		return nil, fmt.Errorf("flux2: %d weights missing, e.g. %s", len(missing), missing[0])
	}
	if len(m.TrainableNames()) == 0 {
		return nil, fmt.Errorf("flux2: no trainable variables")
	}
	if err := m.Memory.Validate(m.Config); err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	if err := m.Parallel.Validate(m.Memory, m.backend.NumDevices()); err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	if err := tb.checkMask(); err != nil {
		return nil, err
	}
	if n := m.Parallel.devices(); n > 1 {
		if b := tb.X.Shape().Dim(0); b%n != 0 {
			return nil, fmt.Errorf("flux2: a batch of %d does not split over %d devices (use a multiple of %d)", b, n, n)
		}
		if checkpointing {
			return m.lossAndGradientsBlockwise(tb, dtype)
		}
		return m.lossAndGradientsParallel(tb, dtype)
	}
	if checkpointing || m.Memory.Streams() {
		return m.lossAndGradientsBlockwise(tb, dtype)
	}
	return m.lossAndGradientsWhole(tb, dtype)
}

// checkMask checks that a loss mask has the target's batch and token
// dimensions ([B, N]).
func (tb *TrainBatch) checkMask() error {
	if tb.Mask == nil {
		return nil
	}
	b, n := tb.Target.Shape().Dim(0), tb.Target.Shape().Dim(1)
	if d := tb.Mask.Shape().Dimensions; len(d) != 2 || d[0] != b || d[1] != n {
		return fmt.Errorf("flux2: loss mask of dimensions %v, want [%d %d] (batch, target tokens); give one weight per target token", d, b, n)
	}
	return nil
}

// trainInputs returns the TrainBatch tensors in program order.
func (tb *TrainBatch) trainInputs() []*tensors.Tensor {
	in := append(tb.Batch.inputs(), tb.Target)
	if tb.Weight != nil {
		in = append(in, tb.Weight)
	}
	if tb.Mask != nil {
		in = append(in, tb.Mask)
	}
	return in
}

func (m *Model) lossAndGradientsWhole(tb *TrainBatch, dtype dtypes.DType) (*Gradients, error) {
	names := m.VariableNames()
	trainable := m.TrainableNames()
	hasGuidance, hasWeight, hasMask := tb.Guidance != nil, tb.Weight != nil, tb.Mask != nil
	sig := fmt.Sprintf("whole|%s|%v|%v|%s|%s", dtype, hasGuidance, hasWeight, strings.Join(names, ","), strings.Join(trainable, ","))
	if hasMask {
		sig += "|mask" // unmasked batches keep the signature (and program) they always had
	}
	exec, err := m.program(sig, func() (*Exec, error) {
		return NewExec(m.backend, func(inputs []*Node) []*Node {
			bn, rest := splitBatchNodes(inputs, hasGuidance)
			target, rest := rest[0], rest[1:]
			var weight *Node
			if hasWeight {
				weight, rest = rest[0], rest[1:]
			}
			var mask *Node
			if hasMask {
				mask, rest = rest[0], rest[1:]
			}
			w := m.weightsOf(names, rest)
			out := m.Config.Forward(w, ConvertDType(bn.x, dtype), bn.ctx, bn.t, bn.guidance, bn.cos, bn.sin)
			loss := MaskedFlowMatchingLoss(out, target, weight, mask)
			nodes := make([]*Node, len(trainable))
			for i, n := range trainable {
				nodes[i] = w.Get(n)
			}
			return append([]*Node{loss}, Gradient(loss, nodes...)...)
		})
	})
	if err != nil {
		return nil, err
	}
	weights, err := m.weightArgs(names)
	if err != nil {
		return nil, err
	}
	outs, err := exec.Exec(toAny(append(tb.trainInputs(), weights...))...)
	if err != nil {
		return nil, fmt.Errorf("flux2 forward+backward: %w", err)
	}
	res := &Gradients{Loss: tensors.ToScalar[float32](outs[0]), Grads: map[string]*tensors.Tensor{}}
	for i, n := range trainable {
		res.Grads[n] = outs[1+i]
	}
	return res, nil
}
