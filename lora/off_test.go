package lora

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// TestWithAdaptersOff: inside WithAdaptersOff a model with a LoRA (or a
// LoKr) attached gives the plain model's forward; after it, the adapted
// forward again (bit for bit), and the adapter's weights come back unchanged.
func TestWithAdaptersOff(t *testing.T) {
	cfg := tinyRandomModel(t, 2).Config
	for _, tc := range []struct {
		name string
		a    *Adapter
	}{
		{"lora", randomAdapter(t, Spec{Preset: PresetAll, Rank: 4, Alpha: 4}, cfg, 1, 9)},
		{"lokr", tinyLoKr(t, 4, false, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyRandomModel(t, 2)
			if err := Attach(m, tc.a, 1, true); err != nil {
				t.Fatal(err)
			}
			b := tinyBatch(t, m)
			forward := func() []float32 {
				out, err := m.Forward(b, dtypes.Float32)
				if err != nil {
					t.Fatal(err)
				}
				return flat(t, out)
			}
			plainOut, err := tinyRandomModel(t, 2).Forward(b, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			plain := flat(t, plainOut)
			adapted := forward()
			if d := maxAbsDiff(adapted, plain); d < 1e-4 {
				t.Fatalf("the adapter changes the forward by only %g; the test needs a visible update", d)
			}
			var off []float32
			if err := WithAdaptersOff(m, func() error { off = forward(); return nil }); err != nil {
				t.Fatal(err)
			}
			// 0 on the pure-Go backend; XLA fuses the two programs differently.
			if d := maxAbsDiff(off, plain); d > 1e-5 {
				t.Errorf("adapters off: forward differs from the plain model's by %g, want ≤ 1e-5", d)
			}
			if d := maxAbsDiff(forward(), adapted); d != 0 {
				t.Errorf("adapters back on: forward differs from before by %g, want 0", d)
			}
			got, err := Extract(m)
			if err != nil {
				t.Fatal(err)
			}
			if tc.a.IsLoKr() {
				sameLoKr(t, got, tc.a)
			} else {
				sameAdapter(t, got, tc.a)
			}
		})
	}
}
