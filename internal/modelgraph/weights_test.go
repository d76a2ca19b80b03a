package modelgraph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestWeights checks names relative to a module, the decoder seam of
// Matrix, Linear, and that graph-building errors name the weight.
func TestWeights(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2}, 1, 2)
	w := tensors.FromFlatDataAndDimensions([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	decoded := func(get func(string) *Node, base string, dtype dtypes.DType) *Node {
		if q := get(base + ".q"); q != nil {
			return ConvertDType(MulScalar(q, 2), dtype)
		}
		return nil
	}
	out := MustExecOnceN(testutil.Backend(t), func(x, w *Node) []*Node {
		ws := WeightsFromMap("test", map[string]*Node{"a.b.weight": w, "a.c.weight.q": w}, decoded).In("a")
		if ws.Path("b.weight") != "a.b.weight" || !ws.Has("b.weight") || ws.Has("c.weight") {
			panic("names are not relative to the module")
		}
		return []*Node{ws.Linear("b", x), ws.Linear("c", x)}
	}, x, w)
	if got := fmt.Sprint(out[0].Value(), out[1].Value()); got != "[[1 2 3]] [[2 4 6]]" {
		t.Errorf("linear outputs %s", got)
	}
	for _, tc := range []struct {
		build func(ws Weights)
		want  string
	}{
		{func(ws Weights) { ws.Get("d.weight") }, `test: weight "a.d.weight" is missing`},
		{func(ws Weights) { ws.Matrix("d", dtypes.Float32) }, `test: weight "a.d.weight" is missing`},
		{func(ws Weights) { ws.GetShaped("b.weight", 2, 2) }, "test: weight a.b.weight has shape [3 2], want [2 2]"},
	} {
		_, err := ExecOnce(testutil.Backend(t), func(w *Node) *Node {
			tc.build(WeightsFromMap("test", map[string]*Node{"a.b.weight": w}, nil).In("a"))
			return w
		}, w)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
