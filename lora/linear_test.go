package lora

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/model/flux2"
)

// TestWrapChunksMatchWholeLayer checks a LoRA layer computed in chunks of
// rows (flux2.Weights.LinearSplit) against the whole layer: outputs and the
// gradients of down and up agree for slots covering all rows, rows inside
// one chunk, and rows crossing chunk boundaries.
func TestWrapChunksMatchWholeLayer(t *testing.T) {
	const in, out, rank = 5, 9, 2
	sizes := []int{3, 3, 3}
	slots := []struct{ offset, rows int }{{0, 9}, {3, 3}, {2, 5}, {7, 2}}
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(g *Graph, dims ...int) *Node {
		n := dims[0] * dims[1]
		if len(dims) == 3 {
			n *= dims[2]
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = 2*rng.Float32() - 1
		}
		return Reshape(Const(g, v), dims...)
	}
	outs := MustExecOnceN(testutil.Backend(t), func(g *Graph) []*Node {
		x := random(g, 2, 4, in)
		nodes := map[string]*Node{"m.weight": random(g, out, in)}
		var params []*Node
		for k, s := range slots {
			nodes[varname.AdapterSlot("m", k, varname.AdapterDown)] = random(g, rank, in)
			nodes[varname.AdapterSlot("m", k, varname.AdapterUp)] = random(g, s.rows, rank)
			nodes[varname.AdapterSlot("m", k, varname.AdapterScale)] = Scalar(g, x.DType(), 0.5+float64(k))
			if s.offset > 0 {
				nodes[varname.AdapterSlot("m", k, varname.AdapterOffset)] = Zeros(g, shapes.Make(x.DType(), s.offset))
			}
			params = append(params, nodes[varname.AdapterSlot("m", k, varname.AdapterDown)], nodes[varname.AdapterSlot("m", k, varname.AdapterUp)])
		}
		w := flux2.WeightsFromMap(nodes, Wrap(nil), nil)
		weight := random(g, 2, 4, out) // a loss that weighs every output
		whole := w.Linear("m", x)
		split := Concatenate(w.LinearSplit("m", x, sizes...), -1)
		gWhole := Gradient(ReduceAllSum(Mul(whole, weight)), params...)
		gSplit := Gradient(ReduceAllSum(Mul(split, weight)), params...)
		res := []*Node{ReduceAllMax(Abs(Sub(whole, split)))}
		for i := range params {
			res = append(res, ReduceAllMax(Abs(Sub(gWhole[i], gSplit[i]))))
		}
		return res
	})
	for i, o := range outs {
		if d := o.Value().(float32); d > 1e-5 {
			what := "output"
			if i > 0 {
				what = fmt.Sprintf("gradient of slot %d %s", (i-1)/2, []string{"down", "up"}[(i-1)%2])
			}
			t.Errorf("%s: chunked layer differs from the whole by %g", what, d)
		}
	}
}
