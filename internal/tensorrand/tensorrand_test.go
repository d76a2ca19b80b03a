package tensorrand

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestNormal: the shape asked for, the rng's draws in order, reproducible.
func TestNormal(t *testing.T) {
	x := Normal(rand.New(rand.NewPCG(3, 4)), 2, 3)
	if got := x.Shape().Dimensions; len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Fatalf("dims %v, want [2 3]", got)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i, v := range tensors.MustCopyFlatData[float32](x) {
		if want := float32(rng.NormFloat64()); v != want {
			t.Fatalf("element %d = %v, want the rng's draw %v", i, v, want)
		}
	}
}
