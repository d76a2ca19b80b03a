package lora

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/model/flux2"
)

// WithAdaptersOff runs fn with every adapter slot of the model switched
// off, then switches them back on (also when fn fails). Each slot's scale
// variable (LoRA and LoKr alike) is set to zero for the call: Wrap reads the
// scale as a program input, so no program is rebuilt, and every adapted
// layer computes base(x) + 0·Δ(x) = base(x) — the base model's output. The
// slots' weights are untouched, so whatever holds the trained values
// (the trainer, its EMA swap) sees nothing change. A model without slots
// runs fn as it is.
func WithAdaptersOff(m *flux2.Model, fn func() error) (err error) {
	var names []string
	for _, n := range m.VariableNames() {
		if varname.IsAdapter(n) && strings.HasSuffix(n, "."+varname.AdapterScale) {
			names = append(names, n)
		}
	}
	saved := make([]*tensors.Tensor, 0, len(names))
	defer func() {
		for i, t := range saved {
			if rerr := m.Variable(names[i]).SetValuePreservingOld(t); rerr != nil && err == nil {
				err = fmt.Errorf("switching adapter %s back on: %w", names[i], rerr)
			}
		}
	}()
	for _, n := range names {
		v := m.Variable(n)
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("switching adapter %s off: %w", n, err)
		}
		if err := v.SetValuePreservingOld(tensors.FromShape(v.Shape())); err != nil {
			return fmt.Errorf("switching adapter %s off: %w", n, err)
		}
		saved = append(saved, t)
	}
	return fn()
}
