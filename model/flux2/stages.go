package flux2

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// The transformer as a list of stages. Config.Forward walks the list inside
// one graph; the block-wise executor (exec_blockwise.go) walks the same list
// with one program per stage, and its backward pass walks it in reverse. The
// stage order and each stage's computation are written only here.

// stageKind is what a stage computes. Stages of one kind run the same graph
// function on different weights, so the block-wise executor compiles one
// program per kind (and input shapes) and reuses it for every block.
type stageKind string

const (
	embedStage  stageKind = "embed"  // Config.Embed: the two streams, vec and the modulations
	doubleStage stageKind = "double" // one Config.DoubleStreamBlock
	joinStage   stageKind = "join"   // JoinStreams: text, then image tokens
	singleStage stageKind = "single" // one Config.SingleStreamBlock
	finalStage  stageKind = "final"  // ImageTokens, then Config.FinalLayer
)

// stage is one step of the forward pass.
type stage struct {
	kind stageKind
	// module is the official module path of the stage's weights
	// ("double_blocks.3", "final_layer"); "" for the embedding, whose weights
	// are everything outside the blocks and the final layer, and for the
	// join, which has none.
	module string
}

// stages lists the transformer's stages in forward order: the embedding,
// each double block, the join, each single block, the final layer.
func (c Config) stages() []stage {
	out := []stage{{kind: embedStage}}
	for i := 0; i < c.Depth; i++ {
		out = append(out, stage{kind: doubleStage, module: doubleBlockName(i)})
	}
	out = append(out, stage{kind: joinStage})
	for i := 0; i < c.DepthSingle; i++ {
		out = append(out, stage{kind: singleStage, module: singleBlockName(i)})
	}
	return append(out, stage{kind: finalStage, module: "final_layer"})
}

// isBlock reports whether the stage is a transformer block (the stages
// block swap can keep on the host).
func (s stage) isBlock() bool { return s.kind == doubleStage || s.kind == singleStage }

// scope narrows the model's weights w to the stage's.
func (s stage) scope(w Weights) Weights {
	if s.module == "" {
		return w
	}
	return w.In(s.module)
}

// forward computes the stage inside the caller's graph: it reads its inputs
// from a and stores its outputs there (see stageIO for which are which). w
// are the stage's weights (see scope). Shapes are asserted at every stage
// boundary: by the graph functions it calls, and here for the join.
func (s stage) forward(c Config, w Weights, a *activations[*Node]) {
	switch s.kind {
	case embedStage:
		e := c.Embed(w, a.x, a.ctx, a.t, a.guidance)
		a.img, a.txt, a.vec = e.Img, e.Txt, e.Vec
		a.modImg, a.modTxt, a.modSingle = e.ModImg, e.ModTxt, e.ModSingle
	case doubleStage:
		a.img, a.txt = c.DoubleStreamBlock(w, a.img, a.txt, a.modImg, a.modTxt, a.cos, a.sin)
	case joinStage:
		b, l, n := a.txt.Shape().Dim(0), a.txt.Shape().Dim(1), a.img.Shape().Dim(1)
		a.numTxt = l
		a.h = JoinStreams(a.txt, a.img)
		a.img, a.txt = nil, nil
		assertDims("joint stream", a.h, b, l+n, c.Hidden)
	case singleStage:
		a.h = c.SingleStreamBlock(w, a.h, a.modSingle, a.cos, a.sin)
	case finalStage:
		a.out = c.FinalLayer(w, ImageTokens(a.h, a.numTxt), a.vec)
	default:
		panicf("flux2: unknown stage kind %q", s.kind)
	}
}
