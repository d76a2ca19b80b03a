package vae

import (
	"fmt"

	"github.com/flora-ml/flora/model/weights"
)

// SaveCheckpoint writes the autoencoder's weights to one safetensors file in
// the official (ae.safetensors) or the diffusers (vae/ folder) layout, the
// names and shapes Load reads back: diffusers names from DiffusersName and
// the mid-attention projections as 2-D [C, C] matrices.
func (v *VAE) SaveCheckpoint(path string, layout Layout, metadata map[string]string) error {
	ts := make([]weights.TensorData, 0, len(v.shapes))
	for _, official := range v.Config.ParamNames() {
		t := v.Weight(official)
		if t == nil {
			return fmt.Errorf("saving %s: weight %s has no value", path, official)
		}
		name, err := v.Config.nameOf(official, layout)
		if err != nil {
			return fmt.Errorf("saving %s: %w", path, err)
		}
		td, err := weights.FromTensor(name, t)
		if err != nil {
			return fmt.Errorf("saving %s: %w", path, err)
		}
		if layout == LayoutDiffusers && isAttentionProjection(official) {
			td.Shape = td.Shape[:2]
		}
		ts = append(ts, td)
	}
	return weights.WriteFile(path, ts, metadata)
}
