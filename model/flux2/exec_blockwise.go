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
func (m *Model) runStage(kind string, s stageWeights, extraSig string, in []*tensors.Tensor,
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
	outs, err := exec.Exec(toAny(append(append([]*tensors.Tensor{}, in...), weights...))...)
	if err != nil {
		return nil, fmt.Errorf("flux2 %s: %w", kind, err)
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

func (m *Model) lossAndGradientsBlockwise(tb *TrainBatch, dtype dtypes.DType) (*Gradients, error) {
	c := m.Config
	hasGuidance, hasWeight := tb.Guidance != nil, tb.Weight != nil
	embed := m.stageOf("")
	doubles := make([]stageWeights, c.Depth)
	singles := make([]stageWeights, c.DepthSingle)
	for i := range doubles {
		doubles[i] = m.stageOf(doubleBlockName(i) + ".")
	}
	for i := range singles {
		singles[i] = m.stageOf(singleBlockName(i) + ".")
	}
	final := m.stageOf("final_layer.")
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
	batchIn := []*tensors.Tensor{tb.X, tb.Ctx, tb.T}
	if hasGuidance {
		batchIn = append(batchIn, tb.Guidance)
	}
	cos, sin := tb.RoPECos, tb.RoPESin
	res := &Gradients{Grads: map[string]*tensors.Tensor{}}
	record := func(s stageWeights, grads []*tensors.Tensor) {
		for i, n := range s.trainable {
			res.Grads[s.prefix+n] = grads[i]
		}
	}

	// Forward: embedding.
	emb, err := m.runStage("embed", embed, fmt.Sprintf("%s|%v", dt, hasGuidance), batchIn,
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
	img, txt, vec, modImg, modTxt, modSingle := emb[0], emb[1], emb[2], emb[3], emb[4], emb[5]

	// Forward: double blocks, saving their inputs.
	savedImg, savedTxt := make([]*tensors.Tensor, c.Depth), make([]*tensors.Tensor, c.Depth)
	for i := range doubles {
		savedImg[i], savedTxt[i] = img, txt
		outs, err := m.runStage("double", doubles[i], dt, []*tensors.Tensor{img, txt, modImg, modTxt, cos, sin},
			func(in []*Node, w Weights, _ []*Node) []*Node {
				a, b := c.DoubleStreamBlock(w, in[0], in[1], in[2], in[3], in[4], in[5])
				return []*Node{a, b}
			})
		if err != nil {
			return nil, err
		}
		img, txt = outs[0], outs[1]
	}
	numTxt := txt.Shape().Dim(1)
	joined, err := m.runStage("join", stageWeights{}, dt, []*tensors.Tensor{txt, img},
		func(in []*Node, _ Weights, _ []*Node) []*Node { return []*Node{JoinStreams(in[0], in[1])} })
	if err != nil {
		return nil, err
	}
	h := joined[0]

	// Forward: single blocks.
	savedH := make([]*tensors.Tensor, c.DepthSingle)
	for i := range singles {
		savedH[i] = h
		outs, err := m.runStage("single", singles[i], dt, []*tensors.Tensor{h, modSingle, cos, sin},
			func(in []*Node, w Weights, _ []*Node) []*Node {
				return []*Node{c.SingleStreamBlock(w, in[0], in[1], in[2], in[3])}
			})
		if err != nil {
			return nil, err
		}
		h = outs[0]
	}

	// Head: final layer, loss, and the first cotangents.
	headIn := []*tensors.Tensor{h, vec, tb.Target}
	if hasWeight {
		headIn = append(headIn, tb.Weight)
	}
	head, err := m.runStage("head", final, fmt.Sprintf("%s|%v|%v|%d", dt, hasWeight, needEmbed, numTxt), headIn,
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
	res.Loss = tensors.ToScalar[float32](head[0])
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
		outs, err := m.runStage("single-bwd", singles[i], fmt.Sprintf("%s|%v", dt, needEmbed), in,
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
		return res, nil
	}

	// Backward through the join: split the cotangent into text and image parts.
	split, err := m.runStage("split", stageWeights{}, fmt.Sprintf("%d", numTxt), []*tensors.Tensor{gH},
		func(in []*Node, _ Weights, _ []*Node) []*Node {
			return []*Node{SliceAxis(in[0], 1, AxisRange(0, numTxt)), ImageTokens(in[0], numTxt)}
		})
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
		outs, err := m.runStage("double-bwd", doubles[i], fmt.Sprintf("%s|%v", dt, needEmbed), in,
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
		return res, nil
	}

	// Backward: embedding.
	in := append(append([]*tensors.Tensor{}, batchIn...), gImg, gTxt, gVec, gModImg, gModTxt, gModSingle)
	nb := len(batchIn)
	outs, err := m.runStage("embed-bwd", embed, fmt.Sprintf("%s|%v", dt, hasGuidance), in,
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
