package lora

import (
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/model/flux2"

	_ "github.com/flora-ml/flora/internal/gomlxfix" // GoMLX v0.26 gradient fixes this package's graphs need, whatever backend the caller made.
)

// Install makes the model's linear layers apply LoRA slots (idempotent).
func Install(m *flux2.Model) { m.WrapLinear("lora", Wrap) }

// Attach adds every part of the adapter to the model as new slots, with
// strength multiplying each part's alpha/rank. Trainable marks the slots'
// down/up weights trainable (training); the base weights stay frozen.
// Each part becomes one slot holding exactly its own weights: a part adapting
// a slice of a fused layer (diffusers' to_q of img_attn.qkv) keeps its up
// matrix of the slice's rows, applied to those rows only (see Wrap), so
// training updates what was attached and nothing else, and Extract gives it
// back unchanged.
func Attach(m *flux2.Model, a *Adapter, strength float64, trainable bool) error {
	if err := a.Validate(m.Config); err != nil {
		return err
	}
	Install(m)
	for _, module := range a.Modules() {
		k := nextSlot(m, module)
		for _, p := range a.Layers[module] {
			vars := []slotVar{
				{varname.AdapterDown, tensors.FromFlatDataAndDimensions(append([]float32(nil), p.Down...), p.Rank, p.In), trainable},
				{varname.AdapterUp, tensors.FromFlatDataAndDimensions(append([]float32(nil), p.Up...), p.Rows, p.Rank), trainable},
				{varname.AdapterScale, tensors.FromScalar(float32(p.Scale() * strength)), false},
				{varname.AdapterAlpha, tensors.FromScalar(p.Alpha * strength), false},
			}
			if p.RowOffset > 0 {
				vars = append(vars, slotVar{varname.AdapterOffset, tensors.FromFlatDataAndDimensions(make([]float32, p.RowOffset), p.RowOffset), false})
			}
			for _, v := range vars {
				if err := m.SetVariable(varname.AdapterSlot(module, k, v.field), v.t, v.train); err != nil {
					return fmt.Errorf("attaching lora to %s: %w", module, err)
				}
			}
			k++
		}
	}
	return nil
}

// slotVar is one variable of a slot.
type slotVar struct {
	field string
	t     *tensors.Tensor
	train bool
}

// nextSlot returns the first free slot index of a module.
func nextSlot(m *flux2.Model, module string) int {
	k := 0
	for m.Variable(varname.AdapterSlot(module, k, varname.AdapterDown)) != nil {
		k++
	}
	return k
}

// Detach removes every LoRA slot from the model.
func Detach(m *flux2.Model) error {
	for _, n := range m.VariableNames() {
		if varname.IsAdapter(n) {
			if err := m.DeleteVariable(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Extract reads every slot of every adapted layer back into an Adapter
// (the trained weights): one part per slot, in slot order, with its rows
// (RowOffset, Rows) as attached and alpha = scale·rank (Attach's strength
// taken as 1). What Attach attached comes back bit for bit.
func Extract(m *flux2.Model) (*Adapter, error) {
	a := &Adapter{Layers: map[string][]*Part{}, Metadata: map[string]string{}}
	var modules []string
	for _, n := range m.VariableNames() {
		if module, ok := varname.FirstAdapterSlotModule(n); ok && module != "" {
			modules = append(modules, module)
		}
	}
	sort.Slice(modules, func(i, j int) bool { return moduleLess(modules[i], modules[j]) })
	for _, module := range modules {
		for k := 0; m.Variable(varname.AdapterSlot(module, k, varname.AdapterDown)) != nil; k++ {
			p, err := extractSlot(m, module, k)
			if err != nil {
				return nil, err
			}
			a.Layers[module] = append(a.Layers[module], p)
		}
	}
	return a, nil
}

// extractSlot reads slot k of a module as a Part.
func extractSlot(m *flux2.Model, module string, k int) (*Part, error) {
	down, err := hostF32(m, varname.AdapterSlot(module, k, varname.AdapterDown))
	if err != nil {
		return nil, err
	}
	up, err := hostF32(m, varname.AdapterSlot(module, k, varname.AdapterUp))
	if err != nil {
		return nil, err
	}
	dims := m.Variable(varname.AdapterSlot(module, k, varname.AdapterDown)).Shape().Dimensions
	rank, in := dims[0], dims[1]
	alpha, err := slotAlpha(m, module, k, rank)
	if err != nil {
		return nil, err
	}
	offset := 0
	if v := m.Variable(varname.AdapterSlot(module, k, varname.AdapterOffset)); v != nil {
		offset = v.Shape().Dimensions[0]
	}
	return &Part{Rank: rank, Alpha: alpha, In: in, Rows: len(up) / rank, RowOffset: offset,
		Down: down, Up: up}, nil
}

// slotAlpha is the alpha of slot k: the exact value Attach recorded, else
// scale·rank.
func slotAlpha(m *flux2.Model, module string, k, rank int) (float64, error) {
	if v := m.Variable(varname.AdapterSlot(module, k, varname.AdapterAlpha)); v != nil {
		t, err := v.Value()
		if err != nil {
			return 0, err
		}
		return tensors.ToScalar[float64](t), nil
	}
	scale, err := hostF32(m, varname.AdapterSlot(module, k, varname.AdapterScale))
	if err != nil {
		return 0, err
	}
	return float64(scale[0]) * float64(rank), nil
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
