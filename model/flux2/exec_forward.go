package flux2

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Batch is one transformer input batch.
type Batch struct {
	// X [B, N, InChannels] are the (noisy) latent tokens.
	X *tensors.Tensor
	// Ctx [B, L, ContextDim] are the text embeddings.
	Ctx *tensors.Tensor
	// T [B] are the flow times in [0, 1] (float32).
	T *tensors.Tensor
	// Guidance [B] (float32) feeds the guidance embedder; nil for variants
	// without one.
	Guidance *tensors.Tensor
	// RoPECos, RoPESin [B, L+N, hd/2] are the rotary tables of the joint
	// sequence (Config.RoPETables of JointIDs(text ids, image ids)).
	RoPECos, RoPESin *tensors.Tensor
}

// NewBatch builds a Batch, computing the RoPE tables from text and image ids.
func (m *Model) NewBatch(x, ctx, t, guidance *tensors.Tensor, txtIDs, imgIDs [][][4]float64) (*Batch, error) {
	ids, err := JointIDs(txtIDs, imgIDs)
	if err != nil {
		return nil, err
	}
	cos, sin, err := m.Config.RoPETables(ids)
	if err != nil {
		return nil, err
	}
	return &Batch{X: x, Ctx: ctx, T: t, Guidance: guidance, RoPECos: cos, RoPESin: sin}, nil
}

// inputs returns the batch tensors in program-argument order: the
// embedding's inputs, then the RoPE tables.
func (b *Batch) inputs() []*tensors.Tensor {
	return append(b.embedInputs(), b.RoPECos, b.RoPESin)
}

// embedInputs returns what the embedding reads: x, context, t and guidance
// (when the batch has one).
func (b *Batch) embedInputs() []*tensors.Tensor {
	in := []*tensors.Tensor{b.X, b.Ctx, b.T}
	if b.Guidance != nil {
		in = append(in, b.Guidance)
	}
	return in
}

// batchNodes are the program parameters of a Batch.
type batchNodes struct {
	x, ctx, t, guidance, cos, sin *Node
}

// splitBatchNodes takes the batch parameters off the front of a program's
// inputs and returns the rest.
func splitBatchNodes(inputs []*Node, hasGuidance bool) (batchNodes, []*Node) {
	var b batchNodes
	b.x, b.ctx, b.t = inputs[0], inputs[1], inputs[2]
	inputs = inputs[3:]
	if hasGuidance {
		b.guidance, inputs = inputs[0], inputs[1:]
	}
	b.cos, b.sin = inputs[0], inputs[1]
	return b, inputs[2:]
}

// weightArgs returns the current values of the named variables, each
// resident one placed on the device (see residency.go).
func (m *Model) weightArgs(names []string) ([]*tensors.Tensor, error) {
	out := make([]*tensors.Tensor, len(names))
	for i, n := range names {
		t, err := m.value(n)
		if err != nil {
			return nil, err
		}
		if !m.streamed(n) {
			if err := m.place(t); err != nil {
				return nil, fmt.Errorf("flux2: moving %s to the device: %w", n, err)
			}
		}
		out[i] = t
	}
	return out, nil
}

// weightsOf maps program parameter nodes to Weights by name.
func (m *Model) weightsOf(names []string, nodes []*Node) Weights {
	byName := make(map[string]*Node, len(names))
	for i, n := range names {
		byName[n] = nodes[i]
	}
	return WeightsFromMap(byName, m.Linear, m.Decoder).WithAttention(m.Attention)
}

// program returns the cached Exec for a signature, building it with build.
// The attention options are part of every signature.
func (m *Model) program(signature string, build func() (*Exec, error)) (*Exec, error) {
	if err := m.Attention.Validate(); err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	signature += "|" + m.Attention.signature()
	if p, ok := m.programs[signature]; ok {
		return p.(*Exec), nil
	}
	e, err := build()
	if err != nil {
		return nil, err
	}
	m.programs[signature] = e
	return e, nil
}

// Forward runs the whole transformer in one program and returns the
// predicted velocity [B, N, InChannels] in float32. Activations use dtype
// (Float32 or BFloat16). With block swap (Memory.BlocksOnHost) it runs
// block by block instead, streaming the host-held blocks.
func (m *Model) Forward(b *Batch, dtype dtypes.DType) (*tensors.Tensor, error) {
	if missing := m.MissingWeights(); len(missing) > 0 {
		return nil, fmt.Errorf("flux2: %d weights missing, e.g. %s", len(missing), missing[0])
	}
	if err := m.Memory.Validate(m.Config); err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	if m.Memory.BlocksOnHost > 0 {
		return m.forwardStreamed(b, dtype)
	}
	names := m.VariableNames()
	hasGuidance := b.Guidance != nil
	sig := fmt.Sprintf("forward|%s|%v|%s", dtype, hasGuidance, strings.Join(names, ","))
	exec, err := m.program(sig, func() (*Exec, error) {
		return NewExec(m.backend, func(inputs []*Node) *Node {
			bn, params := splitBatchNodes(inputs, hasGuidance)
			w := m.weightsOf(names, params)
			out := m.Config.Forward(w, ConvertDType(bn.x, dtype), bn.ctx, bn.t, bn.guidance, bn.cos, bn.sin)
			return ConvertDType(out, dtypes.Float32)
		})
	})
	if err != nil {
		return nil, err
	}
	weights, err := m.weightArgs(names)
	if err != nil {
		return nil, err
	}
	args := toAny(append(b.inputs(), weights...))
	out, err := exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("flux2 forward: %w", err)
	}
	return out[0], nil
}

func toAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}
