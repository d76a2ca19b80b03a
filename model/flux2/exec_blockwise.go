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
// rematerialisation, so the forward pass runs as a sequence of programs —
// embedding, each double block, the join, each single block, the head —
// keeping only each block's input. The backward pass walks the blocks in
// reverse and, for each, runs a program that recomputes the block from its
// saved input and returns the vector-Jacobian product for the incoming
// cotangent. Block weights are program arguments, so all blocks of a kind
// share one compiled program (cached by argument shapes).

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
// (or awaited, when str prefetched them) and dropped from it after.
func (m *Model) runStage(str *streamer, kind string, s stageWeights, extraSig string, in []*tensors.Tensor,
	build func(in []*Node, w Weights, trainable []*Node) []*Node) ([]*tensors.Tensor, error) {
	nIn := len(in)
	sig := kind + "|" + extraSig + "|" + s.signature()
	exec, err := m.program(sig, func() (*Exec, error) {
		return NewExec(m.backend, func(inputs []*Node) []*Node {
			w := m.weightsOf(s.rel, inputs[nIn:])
			tr := make([]*Node, len(s.trainable))
			for i, n := range s.trainable {
				tr[i] = w.Get(n)
			}
			return build(inputs[:nIn], w, tr)
		})
	})
	if err != nil {
		return nil, err
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

// stages are the programs of the block-wise execution, in forward order.
type stages struct {
	embed, final     stageWeights
	doubles, singles []stageWeights
}

// stagesOf lists the model's stages.
func (m *Model) stagesOf() stages {
	c := m.Config
	st := stages{embed: m.stageOf(""), final: m.stageOf("final_layer."),
		doubles: make([]stageWeights, c.Depth), singles: make([]stageWeights, c.DepthSingle)}
	for i := range st.doubles {
		st.doubles[i] = m.stageOf(doubleBlockName(i) + ".")
	}
	for i := range st.singles {
		st.singles[i] = m.stageOf(singleBlockName(i) + ".")
	}
	return st
}

// blocks returns the transformer blocks in forward order.
func (st stages) blocks() []stageWeights {
	return append(append([]stageWeights{}, st.doubles...), st.singles...)
}

// after returns the block after forward position k (the zero stageWeights
// after the last: nothing to prefetch).
func (st stages) after(k int) stageWeights {
	if b := st.blocks(); k+1 < len(b) {
		return b[k+1]
	}
	return stageWeights{}
}

// before returns the block before forward position k (the zero
// stageWeights before the first).
func (st stages) before(k int) stageWeights {
	if k > 0 {
		return st.blocks()[k-1]
	}
	return stageWeights{}
}

// forwardState is what the block-wise forward pass leaves for the head and
// the backward pass.
type forwardState struct {
	// h [B, L+N, D] is the last single block's output.
	h *tensors.Tensor
	// vec [B, D] and the modulations are the embedding's other outputs.
	vec, modImg, modTxt, modSingle *tensors.Tensor
	// numTxt is the number of text tokens L.
	numTxt int
	// savedImg, savedTxt (per double block) and savedH (per single block)
	// are the block inputs, when the forward pass keeps them.
	savedImg, savedTxt, savedH []*tensors.Tensor
}

// release frees every tensor the state still holds.
func (f *forwardState) release() {
	release(f.h, f.vec, f.modImg, f.modTxt, f.modSingle)
	release(f.savedImg...)
	release(f.savedTxt...)
	release(f.savedH...)
}

// forwardBlockwise runs the embedding, the double blocks, the join and the
// single blocks as separate programs. With keep, each block's input is
// kept for the backward pass (in host memory when the model offloads
// activations); otherwise it is released once the block has run. Block
// swap's copies go through str.
func (m *Model) forwardBlockwise(str *streamer, st stages, b *Batch, dtype dtypes.DType, keep bool) (_ *forwardState, err error) {
	c := m.Config
	dt := dtype.String()
	hasGuidance := b.Guidance != nil
	batchIn := b.embedInputs()
	f := &forwardState{}
	if keep {
		f.savedImg, f.savedTxt, f.savedH = make([]*tensors.Tensor, c.Depth), make([]*tensors.Tensor, c.Depth), make([]*tensors.Tensor, c.DepthSingle)
	}
	var img, txt *tensors.Tensor
	defer func() {
		if err != nil {
			release(img, txt)
			f.release()
		}
	}()
	// done disposes of a block input once its block has run.
	done := func(ts ...*tensors.Tensor) error {
		switch {
		case !keep:
			release(ts...)
		case m.Memory.OffloadActivations:
			for _, t := range ts {
				if err := toHost(t); err != nil {
					return fmt.Errorf("flux2: moving a saved activation to host memory: %w", err)
				}
			}
		}
		return nil
	}

	emb, err := m.runStage(str, "embed", st.embed, fmt.Sprintf("%s|%v", dt, hasGuidance), batchIn,
		func(in []*Node, w Weights, _ []*Node) []*Node {
			var g *Node
			if hasGuidance {
				g = in[3]
			}
			e := c.Embed(w, ConvertDType(in[0], dtype), in[1], in[2], g)
			return []*Node{e.Img, e.Txt, e.Vec, e.ModImg, e.ModTxt, e.ModSingle}
		})
	if err != nil {
		return nil, err
	}
	img, txt = emb[0], emb[1]
	f.vec, f.modImg, f.modTxt, f.modSingle = emb[2], emb[3], emb[4], emb[5]
	cos, sin := b.RoPECos, b.RoPESin

	for i := range st.doubles {
		if keep {
			f.savedImg[i], f.savedTxt[i] = img, txt
		}
		str.prefetch(st.after(i))
		outs, err := m.runStage(str, "double", st.doubles[i], dt, []*tensors.Tensor{img, txt, f.modImg, f.modTxt, cos, sin},
			func(in []*Node, w Weights, _ []*Node) []*Node {
				a, b := c.DoubleStreamBlock(w, in[0], in[1], in[2], in[3], in[4], in[5])
				return []*Node{a, b}
			})
		if err != nil {
			return nil, err
		}
		in0, in1 := img, txt
		img, txt = outs[0], outs[1]
		if err := done(in0, in1); err != nil {
			return nil, err
		}
	}
	f.numTxt = txt.Shape().Dim(1)
	joined, err := m.runStage(str, "join", stageWeights{}, dt, []*tensors.Tensor{txt, img},
		func(in []*Node, _ Weights, _ []*Node) []*Node { return []*Node{JoinStreams(in[0], in[1])} })
	if err != nil {
		return nil, err
	}
	release(img, txt) // saved nowhere: the last double block's outputs, or the embedding's
	img, txt = nil, nil
	f.h = joined[0]

	for i := range st.singles {
		if keep {
			f.savedH[i] = f.h
		}
		str.prefetch(st.after(c.Depth + i))
		outs, err := m.runStage(str, "single", st.singles[i], dt, []*tensors.Tensor{f.h, f.modSingle, cos, sin},
			func(in []*Node, w Weights, _ []*Node) []*Node {
				return []*Node{c.SingleStreamBlock(w, in[0], in[1], in[2], in[3])}
			})
		if err != nil {
			return nil, err
		}
		in := f.h
		f.h = outs[0]
		if err := done(in); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// forwardStreamed is Forward for a model that streams blocks from host
// memory (block swap): the same computation as separate programs, so that
// only the blocks in use need device memory.
func (m *Model) forwardStreamed(b *Batch, dtype dtypes.DType) (*tensors.Tensor, error) {
	st := m.stagesOf()
	str := &streamer{m: m, pending: map[string]chan error{}}
	f, err := m.forwardBlockwise(str, st, b, dtype, false)
	if err != nil {
		return nil, err
	}
	defer f.release()
	numTxt := f.numTxt
	out, err := m.runStage(str, "final", st.final, fmt.Sprintf("%s|%d", dtype, numTxt), []*tensors.Tensor{f.h, f.vec},
		func(in []*Node, w Weights, _ []*Node) []*Node {
			return []*Node{ConvertDType(m.Config.FinalLayer(w, ImageTokens(in[0], numTxt), in[1]), dtypes.Float32)}
		})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (m *Model) lossAndGradientsBlockwise(tb *TrainBatch, dtype dtypes.DType) (*Gradients, error) {
	c := m.Config
	hasGuidance, hasWeight := tb.Guidance != nil, tb.Weight != nil
	st := m.stagesOf()
	embed, doubles, singles, final := st.embed, st.doubles, st.singles, st.final
	needEmbed := len(embed.trainable) > 0 // gradients must reach vec and the modulations
	// The backward pass can stop below the lowest stage with trainables.
	lowestDouble, lowestSingle := c.Depth, c.DepthSingle
	for i := c.Depth - 1; i >= 0; i-- {
		if len(doubles[i].trainable) > 0 {
			lowestDouble = i
		}
	}
	for i := c.DepthSingle - 1; i >= 0; i-- {
		if len(singles[i].trainable) > 0 {
			lowestSingle = i
		}
	}
	if needEmbed {
		lowestDouble, lowestSingle = 0, 0
	} else if lowestDouble < c.Depth {
		lowestSingle = 0
	}
	dt := dtype.String()
	batchIn := tb.embedInputs()
	cos, sin := tb.RoPECos, tb.RoPESin
	res := &Gradients{Grads: map[string]*tensors.Tensor{}}
	record := func(s stageWeights, grads []*tensors.Tensor) {
		for i, n := range s.trainable {
			res.Grads[s.prefix+n] = grads[i]
		}
	}
	str := &streamer{m: m, pending: map[string]chan error{}}
	f, err := m.forwardBlockwise(str, st, tb.Batch, dtype, true)
	if err != nil {
		return nil, err
	}
	// Every intermediate tensor is released as soon as the step is done
	// with it; whatever is left (on an error, or below the lowest trainable
	// block) goes when the step returns.
	defer f.release()
	h, vec, modImg, modTxt, modSingle, numTxt := f.h, f.vec, f.modImg, f.modTxt, f.modSingle, f.numTxt
	savedImg, savedTxt, savedH := f.savedImg, f.savedTxt, f.savedH
	blocks := st.blocks()

	// Head: final layer, loss, and the first cotangents. The backward pass
	// starts with the last block (when any block trains): its weights are
	// copied back while the head runs.
	if n := len(blocks); n > 0 && (lowestSingle < c.DepthSingle || (c.DepthSingle == 0 && lowestDouble < c.Depth)) {
		str.prefetch(blocks[n-1])
	}
	headIn := []*tensors.Tensor{h, vec, tb.Target}
	if hasWeight {
		headIn = append(headIn, tb.Weight)
	}
	head, err := m.runStage(str, "head", final, fmt.Sprintf("%s|%v|%v|%d", dt, hasWeight, needEmbed, numTxt), headIn,
		func(in []*Node, w Weights, tr []*Node) []*Node {
			var weight *Node
			if hasWeight {
				weight = in[3]
			}
			out := c.FinalLayer(w, ImageTokens(in[0], numTxt), in[1])
			loss := FlowMatchingLoss(out, in[2], weight)
			wrt := []*Node{in[0]}
			if needEmbed {
				wrt = append(wrt, in[1])
			}
			grads := toF32(Gradient(loss, append(wrt, tr...)...))
			return append([]*Node{loss}, grads...)
		})
	if err != nil {
		return nil, err
	}
	release(f.h) // the last block's output: the head was its only reader
	f.h = nil
	res.Loss = tensors.ToScalar[float32](head[0])
	release(head[0])
	gH := head[1]
	rest := head[2:]
	var gVec *tensors.Tensor
	if needEmbed {
		gVec, rest = rest[0], rest[1:]
	}
	record(final, rest)

	// Backward: single blocks in reverse, recomputing each from its input.
	var gModSingle, gModImg, gModTxt *tensors.Tensor
	if needEmbed {
		gModSingle = zerosLike(modSingle)
		gModImg, gModTxt = zerosLike(modImg), zerosLike(modTxt)
	}
	for i := c.DepthSingle - 1; i >= lowestSingle; i-- {
		in := []*tensors.Tensor{savedH[i], modSingle, cos, sin, gH}
		if needEmbed {
			in = append(in, gModSingle)
		}
		if i > lowestSingle || lowestDouble < c.Depth {
			str.prefetch(st.before(c.Depth + i))
		}
		outs, err := m.runStage(str, "single-bwd", singles[i], fmt.Sprintf("%s|%v", dt, needEmbed), in,
			func(in []*Node, w Weights, tr []*Node) []*Node {
				out := c.SingleStreamBlock(w, in[0], in[1], in[2], in[3])
				wrt := []*Node{in[0]}
				if needEmbed {
					wrt = append(wrt, in[1])
				}
				grads := toF32(Gradient(dotWith(out, in[4]), append(wrt, tr...)...))
				if needEmbed {
					grads[1] = Add(grads[1], in[5])
				}
				return grads
			})
		release(savedH[i], gH, gModSingle)
		savedH[i], gH, gModSingle = nil, nil, nil
		if err != nil {
			return nil, err
		}
		gH, outs = outs[0], outs[1:]
		if needEmbed {
			gModSingle, outs = outs[0], outs[1:]
		}
		record(singles[i], outs)
	}
	if lowestDouble >= c.Depth {
		release(gH, gVec, gModSingle, gModImg, gModTxt)
		return res, nil
	}

	// Backward through the join: split the cotangent into text and image parts.
	split, err := m.runStage(str, "split", stageWeights{}, fmt.Sprintf("%d", numTxt), []*tensors.Tensor{gH},
		func(in []*Node, _ Weights, _ []*Node) []*Node {
			return []*Node{SliceAxis(in[0], 1, AxisRange(0, numTxt)), ImageTokens(in[0], numTxt)}
		})
	release(gH)
	if err != nil {
		return nil, err
	}
	gTxt, gImg := split[0], split[1]

	// Backward: double blocks in reverse.
	for i := c.Depth - 1; i >= lowestDouble; i-- {
		in := []*tensors.Tensor{savedImg[i], savedTxt[i], modImg, modTxt, cos, sin, gImg, gTxt}
		if needEmbed {
			in = append(in, gModImg, gModTxt)
		}
		if i > lowestDouble {
			str.prefetch(st.before(i))
		}
		outs, err := m.runStage(str, "double-bwd", doubles[i], fmt.Sprintf("%s|%v", dt, needEmbed), in,
			func(in []*Node, w Weights, tr []*Node) []*Node {
				a, b := c.DoubleStreamBlock(w, in[0], in[1], in[2], in[3], in[4], in[5])
				s := Add(dotWith(a, in[6]), dotWith(b, in[7]))
				wrt := []*Node{in[0], in[1]}
				if needEmbed {
					wrt = append(wrt, in[2], in[3])
				}
				grads := toF32(Gradient(s, append(wrt, tr...)...))
				if needEmbed {
					grads[2] = Add(grads[2], in[8])
					grads[3] = Add(grads[3], in[9])
				}
				return grads
			})
		release(savedImg[i], savedTxt[i], gImg, gTxt, gModImg, gModTxt)
		savedImg[i], savedTxt[i], gImg, gTxt, gModImg, gModTxt = nil, nil, nil, nil, nil, nil
		if err != nil {
			return nil, err
		}
		gImg, gTxt, outs = outs[0], outs[1], outs[2:]
		if needEmbed {
			gModImg, gModTxt, outs = outs[0], outs[1], outs[2:]
		}
		record(doubles[i], outs)
	}
	if !needEmbed {
		release(gImg, gTxt)
		return res, nil
	}

	// Backward: embedding.
	in := append(append([]*tensors.Tensor{}, batchIn...), gImg, gTxt, gVec, gModImg, gModTxt, gModSingle)
	nb := len(batchIn)
	outs, err := m.runStage(str, "embed-bwd", embed, fmt.Sprintf("%s|%v", dt, hasGuidance), in,
		func(in []*Node, w Weights, tr []*Node) []*Node {
			var g *Node
			if hasGuidance {
				g = in[3]
			}
			e := c.Embed(w, ConvertDType(in[0], dtype), in[1], in[2], g)
			gs := in[nb:]
			s := dotWith(e.Img, gs[0])
			for i, x := range []*Node{e.Txt, e.Vec, e.ModImg, e.ModTxt, e.ModSingle} {
				s = Add(s, dotWith(x, gs[i+1]))
			}
			return toF32(Gradient(s, tr...))
		})
	release(in[nb:]...)
	if err != nil {
		return nil, err
	}
	record(embed, outs)
	return res, nil
}

// zerosLike returns a float32 zero tensor of t's dimensions.
func zerosLike(t *tensors.Tensor) *tensors.Tensor {
	return tensors.FromShape(shapes.Make(dtypes.Float32, t.Shape().Dimensions...))
}
