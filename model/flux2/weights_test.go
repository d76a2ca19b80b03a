package flux2

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/flora-ml/flora/internal/testutil"
)

// randomConst returns a constant of uniform values in [-1, 1).
func randomConst(g *Graph, rng *rand.Rand, dims ...int) *Node {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*rng.Float32() - 1
	}
	return Reshape(Const(g, v), dims...)
}

// TestLinearSplitMatchesWholeLayer checks that a fused layer computed chunk
// by chunk gives exactly the chunks of the whole layer's output.
func TestLinearSplitMatchesWholeLayer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	outs := MustExecOnceN(testutil.Backend(t), func(g *Graph) []*Node {
		x := randomConst(g, rng, 2, 3, 5)
		w := WeightsFromMap(map[string]*Node{"m.weight": randomConst(g, rng, 7, 5)}, nil, nil)
		whole := w.Linear("m", x)
		parts := w.LinearSplit("m", x, 2, 4, 1)
		return []*Node{
			Sub(whole, Concatenate(parts, -1)),
			Sub(SliceAxis(whole, -1, AxisRange(2, 6)), parts[1]),
		}
	})
	for i, o := range outs {
		for j, v := range o.Value().([][][]float32) {
			for k, row := range v {
				for l, e := range row {
					if e > 1e-6 || e < -1e-6 {
						t.Fatalf("output %d [%d,%d,%d]: chunk differs from the whole layer by %g", i, j, k, l, e)
					}
				}
			}
		}
	}
}

// TestRowChunksRejectsBadSizes checks the graph-building error for chunk
// sizes that do not cover the layer's rows.
func TestRowChunksRejectsBadSizes(t *testing.T) {
	tests := []struct {
		sizes []int
		want  string
	}{
		{[]int{2, 2}, "add up to 4, the layer has 5 output rows"},
		{[]int{5, 0}, "must be positive"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.sizes), func(t *testing.T) {
			defer func() {
				r := recover()
				if err, ok := r.(error); !ok || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("RowChunks(%v, 5) panicked with %v, want %q", tc.sizes, r, tc.want)
				}
			}()
			RowChunks(tc.sizes, 5)
		})
	}
	if got := RowChunks([]int{1, 3, 1}, 5); fmt.Sprint(got) != "[[0 1] [1 4] [4 5]]" {
		t.Errorf("RowChunks([1 3 1], 5) = %v", got)
	}
}

// TestBlocksDoNotBuildFusedOutputs checks that neither block's forward nor
// its backward builds the full output of a fused layer (qkv [.., 3D], mlp.0
// [.., 2M], linear1 [.., 3D+2M]): such a tensor only exists to be sliced,
// and its slices' gradients are zero-padded full-width tensors, summed.
func TestBlocksDoNotBuildFusedOutputs(t *testing.T) {
	// MLP ratio 2.5 keeps 3D, 2M and 3D+2M apart from every other width.
	c := Config{InChannels: 16, ContextDim: 40, Hidden: 96, NumHeads: 3, Depth: 1, DepthSingle: 1,
		AxesDim: [4]int{8, 8, 8, 8}, Theta: 2000, MLPRatio: 2.5}
	b, n, l, d, m, hd := 1, 6, 4, c.Hidden, c.MLPHidden(), c.HeadDim()
	g := NewGraph(testutil.Backend(t), "blocks")
	rng := rand.New(rand.NewPCG(3, 4))
	nodes := map[string]*Node{}
	for name, dims := range c.ParamShapes() {
		nodes[name] = randomConst(g, rng, dims...)
	}
	w := WeightsFromMap(nodes, nil, nil)
	img := Parameter(g, "img", shapes.Make(dtypes.Float32, b, n, d))
	txt := Parameter(g, "txt", shapes.Make(dtypes.Float32, b, l, d))
	cos, sin := randomConst(g, rng, b, l+n, hd/2), randomConst(g, rng, b, l+n, hd/2)
	imgOut, txtOut := c.DoubleStreamBlock(w.In("double_blocks.0"), img, txt,
		randomConst(g, rng, b, 6*d), randomConst(g, rng, b, 6*d), cos, sin)
	x := Concatenate([]*Node{txtOut, imgOut}, 1)
	x = c.SingleStreamBlock(w.In("single_blocks.0"), x, randomConst(g, rng, b, 3*d), cos, sin)
	Gradient(ReduceAllSum(x), img, txt)
	for _, node := range g.Nodes() {
		dims := node.Shape().Dimensions
		if len(dims) == 0 {
			continue
		}
		switch w := dims[len(dims)-1]; {
		case len(dims) == 3 && (w == 3*d || w == 2*m || w == 3*d+2*m):
			t.Errorf("node %s builds a fused layer's whole output %v", node.Type(), dims)
		}
	}
}
