package flux2

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Block-wise execution (gradient checkpointing). GoMLX has no
// rematerialisation, so the forward pass runs the stage list (stages.go) as
// a sequence of programs — embedding, each double block, the join, each
// single block, the head — keeping only each block's input
// (exec_blockwise_forward.go). The backward pass walks the stages in reverse
// and, for each, runs a program that recomputes the stage from its saved
// input and returns the vector-Jacobian product for the incoming cotangent
// (exec_blockwise_backward.go). Block weights are program arguments, so all
// blocks of a kind share one compiled program (cached by argument shapes).
// This file runs one stage program.

// stageWeights lists the variables of a stage by relative name.
type stageWeights struct {
	prefix    string
	rel       []string // all variable names relative to prefix, sorted
	trainable []string // the trainable subset, relative
	onHost    bool     // a block whose weights block swap keeps on the host
}

// stagePrefixes are the module prefixes that are not part of the embedding stage.
var stagePrefixes = []string{"double_blocks.", "single_blocks.", "final_layer."}

// stageOf returns the variables under prefix; prefix "" means the embedding
// stage (everything outside the blocks and the final layer).
func (m *Model) stageOf(prefix string) stageWeights {
	s := stageWeights{prefix: prefix}
	for _, n := range m.VariableNames() {
		var rel string
		if prefix == "" {
			inBlock := false
			for _, p := range stagePrefixes {
				inBlock = inBlock || strings.HasPrefix(n, p)
			}
			if inBlock {
				continue
			}
			rel = n
		} else if strings.HasPrefix(n, prefix) {
			rel = n[len(prefix):]
		} else {
			continue
		}
		s.rel = append(s.rel, rel)
		if m.vars[n].Trainable {
			s.trainable = append(s.trainable, rel)
		}
	}
	sort.Strings(s.rel)
	s.onHost = prefix != "" && m.onHost(prefix)
	return s
}

func (s stageWeights) signature() string {
	return strings.Join(s.rel, ",") + "|" + strings.Join(s.trainable, ",")
}

func (m *Model) stageArgs(s stageWeights) ([]*tensors.Tensor, error) {
	full := make([]string, len(s.rel))
	for i, r := range s.rel {
		full[i] = s.prefix + r
	}
	return m.weightArgs(full)
}

// runStage compiles (once per signature) and runs a stage program whose
// arguments are the activation tensors `in` followed by the stage weights.
// The weights of a stage kept on the host are copied to the device first
// (or awaited, when str prefetched them) and dropped from it after. On
// several devices (str.mesh) the program is partitioned over them, and
// layout says how its outputs lie there.
func (m *Model) runStage(str *streamer, kind string, s stageWeights, extraSig string, layout stageOutputs, in []*tensors.Tensor,
	build func(in []*Node, w Weights, trainable []*Node) []*Node) ([]*tensors.Tensor, error) {
	nIn := len(in)
	sig := kind + "|" + extraSig + "|" + s.signature()
	if str.mesh != nil {
		sig = str.mesh.signature() + "|" + sig
	}
	exec, err := m.program(sig, func() (*Exec, error) {
		e, err := NewExec(m.backend, func(inputs []*Node) []*Node {
			w := m.weightsOf(s.rel, inputs[nIn:])
			tr := make([]*Node, len(s.trainable))
			for i, n := range s.trainable {
				tr[i] = w.Get(n)
			}
			return build(inputs[:nIn], w, tr)
		})
		if err != nil || str.mesh == nil {
			return e, err
		}
		return str.mesh.partition(e, layout, len(s.trainable))
	})
	if err != nil {
		return nil, err
	}
	if str.mesh != nil {
		return str.mesh.run(exec, kind, s, in, layout)
	}
	weights, err := m.stageArgs(s)
	if err != nil {
		return nil, err
	}
	if s.onHost {
		str.prefetch(s) // a no-op when already started
		if err := str.wait(s); err != nil {
			return nil, err
		}
	}
	outs, err := exec.Exec(toAny(append(append([]*tensors.Tensor{}, in...), weights...))...)
	if err != nil {
		return nil, fmt.Errorf("flux2 %s: %w", kind, err)
	}
	if s.onHost {
		for i, r := range s.rel {
			if !m.streamed(s.prefix + r) {
				continue
			}
			if err := toHost(weights[i]); err != nil {
				return nil, fmt.Errorf("flux2 %s: dropping the device copy of %s%s: %w", kind, s.prefix, r, err)
			}
		}
	}
	return outs, nil
}

// dotWith returns Σ f32(x)·g, the scalar whose gradient is the VJP of x for
// the cotangent g.
func dotWith(x, g *Node) *Node {
	return ReduceAllSum(Mul(ConvertDType(x, dtypes.Float32), ConvertDType(StopGradient(g), dtypes.Float32)))
}

func toF32(nodes []*Node) []*Node {
	out := make([]*Node, len(nodes))
	for i, n := range nodes {
		out[i] = ConvertDType(n, dtypes.Float32)
	}
	return out
}

// zerosLike returns a float32 zero tensor of t's dimensions.
func zerosLike(t *tensors.Tensor) *tensors.Tensor {
	return tensors.FromShape(shapes.Make(dtypes.Float32, t.Shape().Dimensions...))
}
