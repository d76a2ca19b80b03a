package lora

import (
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"

	_ "github.com/flora-ml/flora/internal/gomlxfix" // GoMLX v0.26 gradient fixes this package's graphs need, whatever backend the caller made.
)

// Install makes the model's linear layers apply LoRA slots (idempotent).
func Install(m *flux2.Model) { m.WrapLinear("lora", Wrap) }

// Attach adds every part of the adapter to the model as new slots, with
// strength multiplying each part's alpha/rank. Trainable marks the slots'
// down/up weights trainable (training); the base weights stay frozen.
// Each part's up matrix is zero-padded to the layer's full output rows, so a
// part adapting a slice of a fused layer is applied exactly.
func Attach(m *flux2.Model, a *Adapter, strength float64, trainable bool) error {
	if err := a.Validate(m.Config); err != nil {
		return err
	}
	layers, _ := Layers(m.Config)
	out := map[string]int{}
	for _, l := range layers {
		out[l.Module] = l.Out
	}
	Install(m)
	for _, module := range a.Modules() {
		k := nextSlot(m, module)
		for _, p := range a.Layers[module] {
			up := p.Up
			if p.RowOffset != 0 || p.Rows != out[module] {
				up = make([]float32, out[module]*p.Rank)
				copy(up[p.RowOffset*p.Rank:], p.Up)
			}
			vars := []struct {
				field string
				t     *tensors.Tensor
				train bool
			}{
				{"down", tensors.FromFlatDataAndDimensions(append([]float32(nil), p.Down...), p.Rank, p.In), trainable},
				{"up", tensors.FromFlatDataAndDimensions(up, out[module], p.Rank), trainable},
				{"scale", tensors.FromScalar(float32(p.Scale() * strength)), false},
			}
			for _, v := range vars {
				if err := m.SetVariable(slotName(module, k, v.field), v.t, v.train); err != nil {
					return fmt.Errorf("attaching lora to %s: %w", module, err)
				}
			}
			k++
		}
	}
	return nil
}

// nextSlot returns the first free slot index of a module.
func nextSlot(m *flux2.Model, module string) int {
	k := 0
	for m.Variable(slotName(module, k, "down")) != nil {
		k++
	}
	return k
}

// Detach removes every LoRA slot from the model.
func Detach(m *flux2.Model) error {
	for _, n := range m.VariableNames() {
		if IsAdapterVariable(n) {
			if err := m.DeleteVariable(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Extract reads slot 0 of every adapted layer back into an Adapter (the
// trained weights), with the given alpha per module taken from the scale.
// Parts attached from slices come back as full-row parts (exact, since the
// padding rows are zero and stay zero only if not trained).
func Extract(m *flux2.Model) (*Adapter, error) {
	a := &Adapter{Layers: map[string][]*Part{}, Metadata: map[string]string{}}
	var modules []string
	for _, n := range m.VariableNames() {
		if len(n) > len(".lora.0.down") && n[len(n)-len(".lora.0.down"):] == ".lora.0.down" {
			modules = append(modules, n[:len(n)-len(".lora.0.down")])
		}
	}
	sort.Slice(modules, func(i, j int) bool { return moduleLess(modules[i], modules[j]) })
	for _, module := range modules {
		down, err := hostF32(m, slotName(module, 0, "down"))
		if err != nil {
			return nil, err
		}
		up, err := hostF32(m, slotName(module, 0, "up"))
		if err != nil {
			return nil, err
		}
		scale, err := hostF32(m, slotName(module, 0, "scale"))
		if err != nil {
			return nil, err
		}
		dims := m.Variable(slotName(module, 0, "down")).Shape().Dimensions
		rank, in := dims[0], dims[1]
		a.Layers[module] = []*Part{{
			Rank: rank, Alpha: float64(scale[0]) * float64(rank), In: in, Rows: len(up) / rank,
			Down: down, Up: up,
		}}
	}
	return a, nil
}

func hostF32(m *flux2.Model, name string) ([]float32, error) {
	v := m.Variable(name)
	if v == nil {
		return nil, fmt.Errorf("no variable %s", name)
	}
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	return tensors.CopyFlatData[float32](t)
}
