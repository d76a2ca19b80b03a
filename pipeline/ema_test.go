package pipeline

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/weights/weightstest"
	"github.com/flora-ml/flora/train"
)

// TestEMAExport: with train.ema_decay a run exports NAME.ema.safetensors
// next to the trained adapter, holding exactly the EMA its last checkpoint
// saved, and the trained adapter stays the trained weights.
func TestEMAExport(t *testing.T) {
	_, out := trainLosses(t, "../examples/tiny/train.yaml", "3", "train.ema_decay=0.9", "output.formats=[comfy]")
	cks, err := train.ListCheckpoints(filepath.Join(out, "checkpoints"))
	if err != nil || len(cks) == 0 {
		t.Fatalf("checkpoints: %v %v", cks, err)
	}
	ema := weightstest.ReadAllF32(t, filepath.Join(cks[len(cks)-1], "ema.safetensors"))
	params := weightstest.ReadAllF32(t, filepath.Join(cks[len(cks)-1], "adapter.safetensors"))
	for _, c := range []struct {
		file string
		want map[string]*tensors.Tensor
	}{{"tiny-demo.ema.safetensors", ema}, {"tiny-demo.safetensors", params}} {
		a, _, _, err := lora.Load(filepath.Join(out, c.file), nil)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for module, parts := range a.Layers {
			for k, p := range parts {
				for field, got := range map[string][]float32{varname.AdapterDown: p.Down, varname.AdapterUp: p.Up} {
					w, ok := c.want[varname.AdapterSlot(module, k, field)]
					if !ok {
						t.Fatalf("%s: checkpoint lacks %s", c.file, varname.AdapterSlot(module, k, field))
					}
					if !slices.Equal(got, tensors.MustCopyFlatData[float32](w)) {
						t.Errorf("%s: %s slot %d %s differs from the checkpoint", c.file, module, k, field)
					}
					checked++
				}
			}
		}
		if checked != len(c.want) {
			t.Errorf("%s: compared %d tensors, the checkpoint has %d", c.file, checked, len(c.want))
		}
	}
}
