package flux2

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// TestStageList: the stages run in the documented order with their weights'
// modules, and every variable belongs to exactly one stage of the
// block-wise plan (so each weight reaches the program that reads it).
func TestStageList(t *testing.T) {
	cfg := TinyConfig()
	var got []string
	for _, s := range cfg.stages() {
		got = append(got, fmt.Sprintf("%s:%s", s.kind, s.module))
	}
	want := []string{"embed:", "double:double_blocks.0", "double:double_blocks.1", "join:",
		"single:single_blocks.0", "single:single_blocks.1", "final:final_layer"}
	if !slices.Equal(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	m := randomModel(t, cfg, 1)
	owner := map[string]int{}
	for k, ps := range m.blockwisePlan() {
		for _, r := range ps.vars.rel {
			if prev, ok := owner[ps.vars.prefix+r]; ok {
				t.Errorf("%s%s in stages %d and %d", ps.vars.prefix, r, prev, k)
			}
			owner[ps.vars.prefix+r] = k
		}
	}
	for _, n := range m.VariableNames() {
		if _, ok := owner[n]; !ok {
			t.Errorf("%s is in no stage", n)
		}
	}
}

// TestBlockwiseWithoutABlockKind: a model without double blocks, without
// single blocks, or without either trains block-wise to the same loss and
// gradients as in one program, with the embedding trainable (so gradients
// must reach modulations that no block reads).
func TestBlockwiseWithoutABlockKind(t *testing.T) {
	for _, depths := range [][2]int{{0, 2}, {2, 0}, {0, 0}} {
		t.Run(fmt.Sprintf("%d double, %d single", depths[0], depths[1]), func(t *testing.T) {
			cfg := TinyConfig()
			cfg.Depth, cfg.DepthSingle = depths[0], depths[1]
			m := randomModel(t, cfg, 5)
			for _, n := range m.VariableNames() {
				m.Variable(n).SetTrainable(true)
			}
			tb := randomBatch(t, m, 2, 2, 3, 4, 6)
			want, err := m.LossAndGradients(tb, dtypes.Float32, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.LossAndGradients(tb, dtypes.Float32, true)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(got.Loss-want.Loss)) > 1e-6*float64(want.Loss) || len(got.Grads) != len(want.Grads) {
				t.Fatalf("loss %.9g (%d gradients), one program %.9g (%d)", got.Loss, len(got.Grads), want.Loss, len(want.Grads))
			}
			for n, g := range want.Grads {
				if got.Grads[n] == nil {
					t.Fatalf("no gradient for %s", n)
				}
				// NaN (0/0) only when both are exactly zero: the
				// modulations of a block kind the model lacks.
				if e := testutil.RelL2Tensors(t, got.Grads[n], g); e > 1e-5 {
					t.Errorf("grad %s: relative L2 error %.3g", n, e)
				}
			}
		})
	}
}
