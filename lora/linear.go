package lora

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive

	"github.com/flora-ml/flora/model/flux2"
)

// Variable names of adapter slot k on module M, relative to the model root:
//
//	M.lora.k.down  [rank, in]   A
//	M.lora.k.up    [out, rank]  B (zero rows outside the part's slice)
//	M.lora.k.scale []           (alpha/rank)·strength
//
// In the GoMLX context they live in scope /M/lora/k, under the base layer's
// own scope, so an adapter's variables are found next to the weight it adapts.
func slotName(module string, k int, field string) string {
	return fmt.Sprintf("%s.lora.%d.%s", module, k, field)
}

// IsAdapterVariable reports whether an official-style variable name belongs
// to a LoRA slot.
func IsAdapterVariable(name string) bool { return strings.Contains(name, ".lora.") }

// Wrap returns a LinearFunc that adds every LoRA slot present on a layer to
// the output of base (nil means flux2.DenseLinear):
// y = base(x) + Σ_k scale_k·B_k·(A_k·x). Layers without slots are untouched,
// so the same wrapper serves any mix of adapted and plain layers.
func Wrap(base flux2.LinearFunc) flux2.LinearFunc {
	if base == nil {
		base = flux2.DenseLinear
	}
	return func(w flux2.Weights, module string, x *Node) *Node {
		y := base(w, module, x)
		for k := 0; w.Has(slotName(module, k, "down")); k++ {
			down := w.Get(slotName(module, k, "down"))
			up := w.Get(slotName(module, k, "up"))
			scale := w.Get(slotName(module, k, "scale"))
			h := flux2.LinearApply(x, down) // [..., rank]
			d := flux2.LinearApply(h, up)   // [..., out]
			y = Add(y, Mul(d, ConvertDType(scale, d.DType())))
		}
		return y
	}
}
