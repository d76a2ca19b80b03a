package lora

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
)

// mergeGraph computes W + scale·(up·down) in float32 and returns W's dtype.
// w [out, in], down [rank, in], up [out, rank], scale [].
func mergeGraph(w, down, up, scale *Node) *Node {
	delta := DotGeneral(up, []int{1}, nil, down, []int{0}, nil) // [out, in]
	merged := Add(ConvertDType(w, dtypes.Float32), Mul(delta, scale))
	return ConvertDType(merged, w.DType())
}

// addGraph computes W + delta in float32 and returns W's dtype.
func addGraph(w, delta *Node) *Node {
	return ConvertDType(Add(ConvertDType(w, dtypes.Float32), delta), w.DType())
}

// Merge adds strength × the adapter's update into the model's base weights
// (W ← W + strength·(alpha/rank)·B·A, for LoKr W + strength·scale·kron(W1, W2)), keeping each weight's dtype; the
// arithmetic runs on the model's backend in float32, one layer at a time.
// The merged model runs without LoRA overhead.
func Merge(m *flux2.Model, a *Adapter, strength float64) error {
	if err := a.Validate(m.Config); err != nil {
		return err
	}
	exec, err := NewExec(m.Backend(), mergeGraph)
	if err != nil {
		return err
	}
	defer exec.Finalize()
	var add *Exec
	defer func() {
		if add != nil {
			add.Finalize()
		}
	}()
	for _, module := range a.Modules() {
		name := module + ".weight"
		v := m.Variable(name)
		if v == nil {
			return fmt.Errorf("merging lora: base weight %s is not loaded", name)
		}
		w, err := v.Value()
		if err != nil {
			return err
		}
		out, in := w.Shape().Dimensions[0], w.Shape().Dimensions[1]
		for _, p := range a.Layers[module] {
			if p.LoKr != nil { // ΔW = scale·kron(W1, W2), built on the host
				if add == nil {
					if add, err = NewExec(m.Backend(), addGraph); err != nil {
						return err
					}
				}
				if w, err = add.Exec1(w, tensors.FromFlatDataAndDimensions(p.DeltaRows(strength), out, in)); err != nil {
					return fmt.Errorf("merging lokr into %s: %w", name, err)
				}
				continue
			}
			up := make([]float32, out*p.Rank)
			copy(up[p.RowOffset*p.Rank:], p.Up)
			merged, err := exec.Exec1(w,
				tensors.FromFlatDataAndDimensions(p.Down, p.Rank, in),
				tensors.FromFlatDataAndDimensions(up, out, p.Rank),
				float32(p.Scale()*strength))
			if err != nil {
				return fmt.Errorf("merging lora into %s: %w", name, err)
			}
			w = merged
		}
		if err := m.SetWeight(name, w); err != nil {
			return err
		}
	}
	return nil
}

// MergedMetadata is the header of a checkpoint with adapters merged in (lora
// merge writes it in the base's layout and dtypes): the base checkpoint's
// header carried over (CarryMetadata: its format tag, config and the rest
// stay true) with the merged adapters (FILE[:scale], as given) appended to
// flora.merged_loras; "format" is "pt" when the base has none.
func MergedMetadata(base map[string]string, loras []string) map[string]string {
	merged := strings.Join(loras, ", ")
	if prev := base["flora.merged_loras"]; prev != "" {
		merged = prev + ", " + merged
	}
	changed := map[string]string{"flora.merged_loras": merged}
	if base["format"] == "" {
		changed["format"] = "pt"
	}
	return CarryMetadata(base, changed)
}
