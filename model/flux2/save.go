package flux2

import (
	"fmt"

	"github.com/flora-ml/flora/model/weights"
)

// SaveCheckpoint writes the model's base weights to one safetensors file in
// the official or the diffusers layout (splitting q/k/v and swapping the
// final adaLN halves for diffusers), in their stored dtype, one tensor at a
// time. Quantized weights cannot be saved this way.
func (m *Model) SaveCheckpoint(path string, layout Layout, metadata map[string]string) error {
	type out struct {
		name       string
		official   string
		rowOffset  int
		rows       int
		swapHalves bool
	}
	var outs []out
	var specs []weights.TensorSpec
	for _, official := range m.Config.ParamNames() {
		v := m.Variable(official)
		if v == nil {
			return fmt.Errorf("saving %s: weight %s is not held as a plain tensor (quantized or missing)", path, official)
		}
		dt, err := weights.FromGoMLX(v.DType())
		if err != nil {
			return err
		}
		dims := v.Shape().Dimensions
		if layout == LayoutOfficial {
			outs = append(outs, out{name: official, official: official, rows: dims[0]})
			specs = append(specs, weights.TensorSpec{Name: official, DType: dt, Shape: dims})
			continue
		}
		src, err := DiffusersSource(official)
		if err != nil {
			return err
		}
		rows := dims[0] / len(src.Parts)
		for i, p := range src.Parts {
			shape := append([]int{rows}, dims[1:]...)
			outs = append(outs, out{name: p, official: official, rowOffset: i * rows, rows: rows, swapHalves: src.SwapHalves})
			specs = append(specs, weights.TensorSpec{Name: p, DType: dt, Shape: shape})
		}
	}
	w, err := weights.NewWriter(path, specs, metadata)
	if err != nil {
		return err
	}
	defer w.Abort()
	for i, o := range outs {
		t, err := m.value(o.official)
		if err != nil {
			return err
		}
		var werr error
		t.ConstBytes(func(b []byte) {
			rowBytes := len(b) / t.Shape().Dimensions[0]
			part := b[o.rowOffset*rowBytes : (o.rowOffset+o.rows)*rowBytes]
			if o.swapHalves {
				half := len(part) / 2
				if werr = w.WriteTensor(specs[i].Name, append(append([]byte(nil), part[half:]...), part[:half]...)); werr != nil {
					return
				}
				return
			}
			werr = w.WriteTensor(specs[i].Name, part)
		})
		if werr != nil {
			return werr
		}
	}
	return w.Commit()
}
