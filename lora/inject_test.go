package lora

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/flux2/flux2test"
)

// sameAdapter reports the first difference between two adapters: modules,
// part count, shapes, rows, alpha and every factor value, bit for bit.
func sameAdapter(t *testing.T, got, want *Adapter) {
	t.Helper()
	if g, w := got.Modules(), want.Modules(); len(g) != len(w) {
		t.Fatalf("%d modules, want %d", len(g), len(w))
	}
	for _, m := range want.Modules() {
		gp, wp := got.Layers[m], want.Layers[m]
		if len(gp) != len(wp) {
			t.Fatalf("%s: %d parts, want %d", m, len(gp), len(wp))
		}
		for i := range wp {
			g, w := gp[i], wp[i]
			if g.Rank != w.Rank || g.In != w.In || g.Rows != w.Rows || g.RowOffset != w.RowOffset || g.Alpha != w.Alpha {
				t.Fatalf("%s part %d: rank %d in %d rows [%d,+%d) alpha %v, want rank %d in %d rows [%d,+%d) alpha %v",
					m, i, g.Rank, g.In, g.RowOffset, g.Rows, g.Alpha, w.Rank, w.In, w.RowOffset, w.Rows, w.Alpha)
			}
			for j := range w.Down {
				if math.Float32bits(g.Down[j]) != math.Float32bits(w.Down[j]) {
					t.Fatalf("%s part %d: down[%d] = %v, want %v", m, i, j, g.Down[j], w.Down[j])
				}
			}
			for j := range w.Up {
				if math.Float32bits(g.Up[j]) != math.Float32bits(w.Up[j]) {
					t.Fatalf("%s part %d: up[%d] = %v, want %v", m, i, j, g.Up[j], w.Up[j])
				}
			}
		}
	}
}

// TestAttachExtractExact: what Attach attaches is what Extract gives back —
// every part of a layer (the three unfused q/k/v parts of a diffusers LoRA,
// a lone to_k slice), with its rows, alpha and values bit for bit — and the
// trainable weights are exactly the adapter's parameters (no padding rows).
func TestAttachExtractExact(t *testing.T) {
	diffusersDir := filepath.Join("..", "testdata", "diffusers")
	tests := []struct {
		name  string
		model func(t *testing.T) *flux2.Model
		lora  func(t *testing.T, m *flux2.Model) *Adapter
		// multi is a layer that must come back with several parts.
		multi string
	}{
		{
			name: "unfused diffusers file",
			model: func(t *testing.T) *flux2.Model {
				return flux2test.Load(t, filepath.Join(diffusersDir, "flux2-tiny-dev"))
			},
			lora: func(t *testing.T, m *flux2.Model) *Adapter {
				a, _, _, err := Load(filepath.Join(diffusersDir, "flux2-tiny-dev-lora", "lora.safetensors"), &m.Config)
				if err != nil {
					t.Fatal(err)
				}
				if p := a.Layers["double_blocks.1.txt_attn.qkv"]; len(p) != 1 || p[0].RowOffset != 32 {
					t.Fatalf("fixture changed: double_blocks.1.txt_attn.qkv should be one slice at row 32")
				}
				return a
			},
			multi: "double_blocks.0.img_attn.qkv",
		},
		{
			name:  "slices with alphas not exact in float32",
			model: func(t *testing.T) *flux2.Model { return tinyRandomModel(t, 1) },
			lora: func(t *testing.T, m *flux2.Model) *Adapter {
				a := randomAdapter(t, Spec{Preset: PresetBlocks, Rank: 3, Alpha: 0.1}, m.Config, 9, 4)
				q := a.Layers["double_blocks.0.txt_attn.qkv"][0]
				a.Layers["double_blocks.0.txt_attn.qkv"] = []*Part{
					{Rank: 3, Alpha: 8, In: 96, Rows: 96, RowOffset: 0, Down: q.Down, Up: q.Up[:96*3]},
					{Rank: 3, Alpha: 1.0 / 3, In: 96, Rows: 96, RowOffset: 192, Down: q.Down, Up: q.Up[96*3 : 192*3]},
				}
				return a
			},
			multi: "double_blocks.0.txt_attn.qkv",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model(t)
			a := tc.lora(t, m)
			if len(a.Layers[tc.multi]) < 2 {
				t.Fatalf("%s has %d parts; the case needs several", tc.multi, len(a.Layers[tc.multi]))
			}
			if err := Attach(m, a, 1, true); err != nil {
				t.Fatal(err)
			}
			var trainable int64
			for _, n := range m.TrainableNames() {
				trainable += int64(m.Variable(n).Shape().Size())
			}
			if trainable != a.NumParams() {
				t.Errorf("%d trainable parameters attached, the adapter has %d", trainable, a.NumParams())
			}
			got, err := Extract(m)
			if err != nil {
				t.Fatal(err)
			}
			if got.NumParams() != a.NumParams() {
				t.Errorf("extracted %d parameters, attached %d", got.NumParams(), a.NumParams())
			}
			sameAdapter(t, got, a)
		})
	}
}
