package flux2

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// recompute is the backward step of a block or of the embedding. GoMLX
// cannot keep a stage's intermediates from the forward program, so one
// program recomputes the stage from its saved inputs and returns the
// vector-Jacobian product: the gradients of Σ⟨output, cotangent⟩ with
// respect to the stage's trainable variables and to the inputs the stages
// below need. The cotangents of its stream inputs take the place of those
// of its outputs; those of the modulations add to the running sums.
func (bp *backwardPass) recompute(k int) error {
	ps, io := bp.plan[k], bp.plan[k].kind.io()
	inputs := bp.fwd.acts                    // the inputs every stage shares,
	inputs.set(io.replaced, bp.fwd.saved[k]) // and this stage's saved ones
	reads := inputs.present(io.reads)
	wrt, sums := bp.gradientSlots(reads, io.replaced)
	for _, s := range append(append([]slot{}, sums...), io.writes...) {
		// A shared activation no stage above read (yet) has a zero
		// cotangent: the modulations before the first block from the top
		// that reads them, or for good in a model without that block kind.
		if v := *bp.fwd.acts.at(s); v != nil && *bp.cot.at(s) == nil {
			z, err := bp.str.zerosLike(v)
			if err != nil {
				return err
			}
			*bp.cot.at(s) = z
		}
	}
	args := append(append(inputs.get(reads), bp.cot.get(io.writes)...), bp.cot.get(sums)...)
	sig := fmt.Sprintf("%s|%v|%v", bp.dtype, reads, bp.needEmbed)
	outLayout := stageOutputs{batch: len(wrt), grads: true}
	grads, err := bp.m.runStage(bp.str, string(ps.kind)+"-bwd", ps.vars, sig, outLayout, args,
		vjpGraph(bp.m.Config, ps.stage, bp.dtype, reads, wrt))
	// Consumed, whatever happened: the saved inputs, the outputs'
	// cotangents and the old sums.
	bp.str.release(bp.fwd.saved[k]...)
	bp.fwd.saved[k] = nil
	for _, s := range append(append([]slot{}, io.writes...), sums...) {
		bp.str.release(*bp.cot.at(s))
		*bp.cot.at(s) = nil
	}
	if err != nil {
		return err
	}
	bp.cot.set(wrt, grads[:len(wrt)])
	bp.record(ps.vars, grads[len(wrt):])
	return nil
}

// gradientSlots returns the reads a stage's backward step differentiates
// with respect to: its stream inputs, then (when the embedding trains) the
// shared activations it reads, whose cotangents are running sums. Batch
// inputs and RoPE tables need none.
func (bp *backwardPass) gradientSlots(reads, replaced []slot) (wrt, sums []slot) {
	for _, s := range reads {
		switch {
		case s.fromBatch():
		case slices.Contains(replaced, s):
			wrt = append(wrt, s)
		case bp.needEmbed:
			sums = append(sums, s)
		}
	}
	return append(wrt, sums...), sums
}

// vjpGraph builds the backward program of stage s. Its parameters are the
// values of reads, the cotangents of the stage's outputs, and the running
// sums of the last slots of wrt (see gradientSlots); it returns the float32
// gradients for wrt (sums added) and then for the trainable variables.
func vjpGraph(c Config, s stage, dtype dtypes.DType, reads, wrt []slot) func(in []*Node, w Weights, tr []*Node) []*Node {
	writes := s.kind.io().writes
	return func(in []*Node, w Weights, tr []*Node) []*Node {
		a := graphActivations(reads, in[:len(reads)], dtype, 0)
		cots, sums := in[len(reads):len(reads)+len(writes)], in[len(reads)+len(writes):]
		wrtNodes := a.get(wrt) // the parameters, before the stage replaces them
		s.forward(c, w, a)
		outs := a.get(writes)
		sum := dotWith(outs[0], cots[0])
		for i := 1; i < len(outs); i++ {
			sum = Add(sum, dotWith(outs[i], cots[i]))
		}
		grads := toF32(Gradient(sum, append(wrtNodes, tr...)...))
		for i, acc := range sums {
			j := len(wrt) - len(sums) + i
			grads[j] = Add(grads[j], acc)
		}
		return grads
	}
}

// fromBatch reports whether the slot holds a batch input (x to the RoPE
// tables) rather than a computed activation.
func (s slot) fromBatch() bool { return s <= sinSlot }
