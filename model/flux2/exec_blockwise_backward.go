package flux2

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// backwardPass is the block-wise backward pass as it walks the stages in
// reverse, one program per stage.
type backwardPass struct {
	m     *Model
	str   *streamer
	plan  blockwisePlan
	fwd   *forwardState
	tb    *TrainBatch
	dtype dtypes.DType
	// needEmbed is set when the embedding trains: then gradients must reach
	// vec and the modulations, which every block reads.
	needEmbed bool
	// cot holds float32 cotangents of the activations: of a stage's outputs
	// before its step, of its stream inputs after it. Those of vec and the
	// modulations add up over the stages that read them.
	cot activations[*tensors.Tensor]
	res *Gradients
}

// lossAndGradientsBlockwise is LossAndGradients with one program per stage:
// the forward pass keeps each block's input, the backward pass recomputes
// each block from it, so only one block's activations are alive at a time.
// On several devices (ParallelOptions) every stage program runs partitioned
// over them (see meshStep).
func (m *Model) lossAndGradientsBlockwise(tb *TrainBatch, dtype dtypes.DType) (*Gradients, error) {
	plan := m.blockwisePlan()
	str := newStreamer(m)
	ms, err := newMeshStep(m)
	if err != nil {
		return nil, err
	}
	if ms != nil {
		str.mesh = ms
		defer ms.close() // last: after the releases below
	}
	f, err := m.forwardBlockwise(str, plan, tb.Batch, dtype, true)
	if err != nil {
		return nil, err
	}
	// Every intermediate tensor is released as soon as the step is done
	// with it; whatever is left (on an error, or below the lowest trainable
	// stage) goes when the step returns.
	defer f.release()
	bp := &backwardPass{m: m, str: str, plan: plan, fwd: f, tb: tb, dtype: dtype,
		needEmbed: len(plan[0].vars.trainable) > 0, res: &Gradients{Grads: map[string]*tensors.Tensor{}}}
	defer releaseComputed(str, &bp.cot)
	stop := plan.lowestTrained() // no gradient is wanted below it
	for k := len(plan) - 1; k >= stop; k-- {
		str.prefetch(plan.prevBlock(k, stop)) // copied while stage k runs
		if err := bp.step(k); err != nil {
			return nil, err
		}
	}
	return bp.res, nil
}

// step runs the backward step of stage k.
func (bp *backwardPass) step(k int) error {
	switch bp.plan[k].kind {
	case finalStage:
		return bp.head(k)
	case joinStage:
		return bp.splitJoint(k)
	default:
		return bp.recompute(k)
	}
}

// record stores the gradients of a stage's trainable variables.
func (bp *backwardPass) record(s stageWeights, grads []*tensors.Tensor) {
	for i, n := range s.trainable {
		bp.res.Grads[s.prefix+n] = grads[i]
	}
}

// head runs the final layer and the loss and starts the backward pass: it
// records the loss and the final layer's gradients, and leaves the
// cotangents of h and (when the embedding trains) vec.
func (bp *backwardPass) head(k int) error {
	c, ps, a := bp.m.Config, bp.plan[k], &bp.fwd.acts
	hasWeight, hasMask, needEmbed, numTxt := bp.tb.Weight != nil, bp.tb.Mask != nil, bp.needEmbed, a.numTxt
	in := []*tensors.Tensor{a.h, a.vec, bp.tb.Target}
	if hasWeight {
		in = append(in, bp.tb.Weight)
	}
	if hasMask {
		in = append(in, bp.tb.Mask)
	}
	sig := fmt.Sprintf("%s|%v|%v|%d", bp.dtype, hasWeight, needEmbed, numTxt)
	if hasMask {
		sig += "|mask" // unmasked batches keep the signature they always had
	}
	outLayout := stageOutputs{loss: true, batch: 1 + boolInt(needEmbed), grads: true}
	outs, err := bp.m.runStage(bp.str, "head", ps.vars, sig, outLayout, in, func(in []*Node, w Weights, tr []*Node) []*Node {
		g := &activations[*Node]{h: in[0], vec: in[1], numTxt: numTxt}
		ps.forward(c, w, g)
		var weight, mask *Node
		rest := in[3:]
		if hasWeight {
			weight, rest = rest[0], rest[1:]
		}
		if hasMask {
			mask = rest[0]
		}
		loss := MaskedFlowMatchingLoss(g.out, in[2], weight, mask)
		wrt := []*Node{in[0]}
		if needEmbed {
			wrt = append(wrt, in[1])
		}
		return append([]*Node{loss}, toF32(Gradient(loss, append(wrt, tr...)...))...)
	})
	if err != nil {
		return err
	}
	bp.str.release(a.h) // the last block's output: the head was its only reader
	a.h = nil
	bp.res.Loss = tensors.ToScalar[float32](outs[0])
	bp.str.release(outs[0])
	bp.cot.h, outs = outs[1], outs[2:]
	if needEmbed {
		bp.cot.vec, outs = outs[0], outs[1:]
	}
	bp.record(ps.vars, outs)
	return nil
}

// splitJoint is the join's backward step: the joint stream's cotangent
// splits into the text and image streams' (sliced in float32, as they are).
func (bp *backwardPass) splitJoint(k int) error {
	numTxt := bp.fwd.acts.numTxt
	split, err := bp.m.runStage(bp.str, "join-bwd", bp.plan[k].vars, fmt.Sprintf("%d", numTxt), stageOutputs{batch: 2}, []*tensors.Tensor{bp.cot.h},
		func(in []*Node, _ Weights, _ []*Node) []*Node {
			return []*Node{SliceAxis(in[0], 1, AxisRange(0, numTxt)), ImageTokens(in[0], numTxt)}
		})
	bp.str.release(bp.cot.h)
	bp.cot.h = nil
	if err != nil {
		return err
	}
	bp.cot.txt, bp.cot.img = split[0], split[1]
	return nil
}
