package flux2

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// forwardState is what the block-wise forward pass leaves for the head and
// the backward pass.
type forwardState struct {
	// acts holds the stage outputs: after the last single block h, vec and
	// the modulations (numTxt too). Its batch values (x to sin) are the
	// batch's tensors, which the state does not own.
	acts activations[*tensors.Tensor]
	// saved holds, by stage index, each block's stream inputs (its replaced
	// reads: img and txt, or h) when the forward pass keeps them.
	saved [][]*tensors.Tensor
	// str is the step's streamer, which knows where the tensors are.
	str *streamer
}

// release frees every tensor the state still holds.
func (f *forwardState) release() {
	releaseComputed(f.str, &f.acts)
	for _, s := range f.saved {
		f.str.release(s...)
	}
}

// computedSlots are the activations the stages compute; the batch's (x to
// sin) belong to the caller.
var computedSlots = []slot{imgSlot, txtSlot, vecSlot, modImgSlot, modTxtSlot, modSingleSlot, hSlot, outSlot}

// releaseComputed frees the computed tensors of a and clears them.
func releaseComputed(str *streamer, a *activations[*tensors.Tensor]) {
	for _, s := range computedSlots {
		str.release(*a.at(s))
		*a.at(s) = nil
	}
}

// batchActivations are the batch's inputs of the stage programs.
func batchActivations(b *Batch) activations[*tensors.Tensor] {
	return activations[*tensors.Tensor]{x: b.X, ctx: b.Ctx, t: b.T, guidance: b.Guidance,
		cos: b.RoPECos, sin: b.RoPESin, numTxt: b.Ctx.Shape().Dim(1)}
}

// forwardBlockwise runs every stage but the final layer as its own program
// (the caller runs that one: the training step's head or the streamed
// Forward's last program). With keep, each block's input is kept for the
// backward pass (in host memory when the model offloads activations);
// otherwise it is released once the block has run. Block swap's copies go
// through str.
func (m *Model) forwardBlockwise(str *streamer, plan blockwisePlan, b *Batch, dtype dtypes.DType, keep bool) (_ *forwardState, err error) {
	if plan[len(plan)-1].kind != finalStage {
		panicf("flux2: the stage list ends with %q, not the final layer", plan[len(plan)-1].kind)
	}
	f := &forwardState{acts: batchActivations(b), saved: make([][]*tensors.Tensor, len(plan)), str: str}
	defer func() {
		if err != nil {
			f.release()
		}
	}()
	for k, ps := range plan[:len(plan)-1] {
		str.prefetch(plan.nextBlock(k)) // copied while this stage runs
		inputs := f.acts.get(ps.kind.io().replaced)
		if err := m.runForwardStage(str, ps, dtype, &f.acts); err != nil {
			return nil, err
		}
		if err := m.disposeInputs(f, k, inputs, keep && ps.isBlock()); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// disposeInputs deals with the stream inputs of stage k once it has run:
// with save they are kept for the backward pass (and moved to host memory
// with activation offload); otherwise nothing reads them again.
func (m *Model) disposeInputs(f *forwardState, k int, inputs []*tensors.Tensor, save bool) error {
	if !save {
		f.str.release(inputs...)
		return nil
	}
	f.saved[k] = inputs
	if !m.Memory.OffloadActivations {
		return nil
	}
	for _, t := range inputs {
		if err := toHost(t); err != nil {
			return fmt.Errorf("flux2: moving a saved activation to host memory: %w", err)
		}
	}
	return nil
}

// runForwardStage runs one stage's program on the activations a and stores
// its outputs there. Its stream inputs (the replaced reads) leave a: the
// caller, which took them before, disposes of them. The final layer's
// output leaves the program in float32, as Forward returns it.
func (m *Model) runForwardStage(str *streamer, ps plannedStage, dtype dtypes.DType, a *activations[*tensors.Tensor]) error {
	io := ps.kind.io()
	reads, numTxt := a.present(io.reads), a.numTxt
	sig := stageSignature(ps.kind, dtype, reads, numTxt)
	outs, err := m.runStage(str, string(ps.kind), ps.vars, sig, stageOutputs{batch: len(io.writes)}, a.get(reads),
		func(in []*Node, w Weights, _ []*Node) []*Node {
			g := graphActivations(reads, in, dtype, numTxt)
			ps.forward(m.Config, w, g)
			if ps.kind == finalStage {
				g.out = ConvertDType(g.out, dtypes.Float32)
			}
			return g.get(io.writes)
		})
	if err != nil {
		return err
	}
	for _, s := range io.replaced {
		*a.at(s) = nil
	}
	a.set(io.writes, outs)
	return nil
}

// stageSignature tells apart the programs of one stage kind (and weights):
// by compute dtype, by which reads the batch has (guidance is optional)
// and, for the final layer, by the number of text tokens it drops, a
// constant of its graph.
func stageSignature(k stageKind, dtype dtypes.DType, reads []slot, numTxt int) string {
	sig := fmt.Sprintf("%s|%v", dtype, reads)
	if k == finalStage {
		sig += fmt.Sprintf("|%d", numTxt)
	}
	return sig
}

// graphActivations are a stage program's activations inside its graph: in
// are the parameters holding the values of reads. The latent tokens x are
// converted to the compute dtype, as the whole-graph programs do.
func graphActivations(reads []slot, in []*Node, dtype dtypes.DType, numTxt int) *activations[*Node] {
	a := &activations[*Node]{numTxt: numTxt}
	a.set(reads, in)
	if a.x != nil {
		a.x = ConvertDType(a.x, dtype)
	}
	return a
}

// forwardStreamed is Forward for a model that streams blocks from host
// memory (block swap): the same stages as separate programs, so that only
// the blocks in use need device memory.
func (m *Model) forwardStreamed(b *Batch, dtype dtypes.DType) (*tensors.Tensor, error) {
	plan := m.blockwisePlan()
	str := newStreamer(m)
	f, err := m.forwardBlockwise(str, plan, b, dtype, false)
	if err != nil {
		return nil, err
	}
	defer f.release()
	if err := m.runForwardStage(str, plan[len(plan)-1], dtype, &f.acts); err != nil {
		return nil, err
	}
	out := f.acts.out
	f.acts.out = nil // the caller's
	return out, nil
}
