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
			if p.LoKr != nil {
				if err := attachLoKr(m, module, k, p, strength, trainable); err != nil {
					return err
				}
				k++
				continue
			}
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
	for hasSlot(m, module, k) {
		k++
	}
	return k
}

// hasSlot reports whether slot k of a module exists (LoRA or LoKr).
func hasSlot(m *flux2.Model, module string, k int) bool {
	return m.Variable(varname.AdapterSlot(module, k, varname.AdapterDown)) != nil ||
		m.Variable(varname.AdapterSlot(module, k, varname.AdapterW1)) != nil
}

// attachLoKr adds a LoKr part as slot k: variables w1 and w2 (or w2_a,
// w2_b), scale and alpha.
func attachLoKr(m *flux2.Model, module string, k int, p *Part, strength float64, trainable bool) error {
	l := p.LoKr
	mat := func(v []float32, d0, d1 int) *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(append([]float32(nil), v...), d0, d1)
	}
	vars := []slotVar{{varname.AdapterW1, mat(l.W1, l.OutA, l.InA), trainable}}
	if p.Rank == 0 {
		vars = append(vars, slotVar{varname.AdapterW2, mat(l.W2, l.OutB, l.InB), trainable})
	} else {
		vars = append(vars, slotVar{varname.AdapterW2A, mat(l.W2A, l.OutB, p.Rank), trainable},
			slotVar{varname.AdapterW2B, mat(l.W2B, p.Rank, l.InB), trainable})
	}
	vars = append(vars, slotVar{varname.AdapterScale, tensors.FromScalar(float32(p.Scale() * strength)), false},
		slotVar{varname.AdapterAlpha, tensors.FromScalar(p.Alpha * strength), false})
	for _, v := range vars {
		if err := m.SetVariable(varname.AdapterSlot(module, k, v.field), v.t, v.train); err != nil {
			return fmt.Errorf("attaching lokr to %s: %w", module, err)
		}
	}
	return nil
}

// extractLoKr reads LoKr slot k of a module as a Part.
func extractLoKr(m *flux2.Model, module string, k int) (*Part, error) {
	get := func(field string) ([]float32, []int, error) {
		name := varname.AdapterSlot(module, k, field)
		v, err := hostF32(m, name)
		if err != nil {
			return nil, nil, err
		}
		return v, m.Variable(name).Shape().Dimensions, nil
	}
	w1, d1, err := get(varname.AdapterW1)
	if err != nil {
		return nil, err
	}
	l := &LoKr{OutA: d1[0], InA: d1[1], W1: w1}
	p := &Part{LoKr: l}
	if m.Variable(varname.AdapterSlot(module, k, varname.AdapterW2)) != nil {
		w2, d2, err := get(varname.AdapterW2)
		if err != nil {
			return nil, err
		}
		l.OutB, l.InB, l.W2 = d2[0], d2[1], w2
	} else {
		a, da, err := get(varname.AdapterW2A)
		if err != nil {
			return nil, err
		}
		b, db, err := get(varname.AdapterW2B)
		if err != nil {
			return nil, err
		}
		l.OutB, l.InB, l.W2A, l.W2B, p.Rank = da[0], db[1], a, b, da[1]
	}
	p.Rows, p.In = l.OutA*l.OutB, l.InA*l.InB
	if p.Alpha, err = slotAlpha(m, module, k, max(p.Rank, 1)); err != nil {
		return nil, err
	}
	return p, nil
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
		for k := 0; hasSlot(m, module, k); k++ {
			extract := extractSlot
			if m.Variable(varname.AdapterSlot(module, k, varname.AdapterW1)) != nil {
				extract = extractLoKr
			}
			p, err := extract(m, module, k)
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
