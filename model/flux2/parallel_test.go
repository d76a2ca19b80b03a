package flux2

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestParallelMatchesOneDevice: a training step split over 2 and 4 devices
// — data parallel, and with the frozen base sharded — gives the loss and
// gradients of the one-device step on the same global batch (rel L2 ≤ 1e-5),
// for two steps (the second reuses the placed base); with ShardBase each
// device holds about 1/N of the base.
func TestParallelMatchesOneDevice(t *testing.T) {
	b := testutil.Backend(t)
	if b.NumDevices() < 4 {
		t.Skipf("backend %s has %d device(s); FLORA_TEST_BACKEND=xla:cpu gives 4 virtual ones", b.Name(), b.NumDevices())
	}
	cfg := TinyConfig()
	trainable := []string{"double_blocks.0.img_attn.qkv.weight", "double_blocks.1.txt_mlp.0.weight", "single_blocks.1.linear1.weight", "final_layer.linear.weight"}
	newModel := func(p ParallelOptions) *Model {
		m := randomModel(t, cfg, 3)
		for _, n := range trainable {
			m.Variable(n).SetTrainable(true)
		}
		m.Parallel = p
		return m
	}
	const tol = 1e-5
	ref := newModel(ParallelOptions{})
	batches := []*TrainBatch{randomBatch(t, ref, 4, 3, 5, 4, 4), randomBatch(t, ref, 4, 3, 5, 4, 5)}
	batches[1].Weight = batches[1].T // per-sample weights exercise the weighted loss
	var want []*Gradients
	for _, tb := range batches {
		g, err := ref.LossAndGradients(tb, dtypes.Float32, false)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, g)
	}
	var baseBytes int64
	for _, n := range ref.VariableNames() {
		if !ref.Variable(n).Trainable {
			baseBytes += int64(ref.Variable(n).Shape().Memory())
		}
	}
	for _, p := range []ParallelOptions{{Devices: 2}, {Devices: 4}, {Devices: 2, ShardBase: true}, {Devices: 4, ShardBase: true}} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			m := newModel(p)
			for step, tb := range batches {
				got, err := m.LossAndGradients(tb, dtypes.Float32, false)
				if err != nil {
					t.Fatal(err)
				}
				if e := testutil.RelL2([]float32{got.Loss}, []float32{want[step].Loss}); e > tol {
					t.Errorf("step %d: loss %.9g, one device %.9g", step, got.Loss, want[step].Loss)
				}
				for n, g := range want[step].Grads {
					testutil.CheckRelL2Tensors(t, fmt.Sprintf("step %d grad %s", step, n), got.Grads[n], g, tol)
				}
			}
			per := m.DeviceBytes()
			if len(per) != p.Devices {
				t.Fatalf("DeviceBytes = %v, want %d devices", per, p.Devices)
			}
			for d, bytes := range per {
				ratio := float64(bytes) / float64(baseBytes)
				t.Logf("device %d holds %.1f KiB of the %.1f KiB base (%.2f)", d, float64(bytes)/1024, float64(baseBytes)/1024, ratio)
				lo, hi := 1.0, 1.0
				if p.ShardBase {
					lo, hi = 1/float64(p.Devices), 1.25/float64(p.Devices) // vectors whose length does not divide stay whole
				}
				if ratio < lo-1e-9 || ratio > hi {
					t.Errorf("device %d holds %.3f of the base, want in [%.3f, %.3f]", d, ratio, lo, hi)
				}
			}
		})
	}
}

// TestParallelRefusals: what several devices cannot do yet, or cannot do on
// this backend, is an error naming the setting.
func TestParallelRefusals(t *testing.T) {
	cfg := TinyConfig()
	m := randomModel(t, cfg, 3)
	m.Variable("single_blocks.1.linear1.weight").SetTrainable(true)
	tb := randomBatch(t, m, 3, 3, 5, 4, 4)
	have := m.backend.NumDevices()
	type refusal struct {
		p             ParallelOptions
		mem           MemoryOptions
		checkpointing bool
		want          string
	}
	tests := []refusal{
		{ParallelOptions{Devices: have + 1}, MemoryOptions{}, false, fmt.Sprintf("%d devices requested but the backend has %d", have+1, have)},
		{ParallelOptions{ShardBase: true}, MemoryOptions{}, false, "sharding the base needs several devices"},
	}
	if have >= 2 {
		tests = append(tests,
			refusal{ParallelOptions{Devices: 2}, MemoryOptions{}, false, "a batch of 3 does not split over 2 devices"},
			refusal{ParallelOptions{Devices: 2}, MemoryOptions{}, true, "gradient checkpointing"},
			refusal{ParallelOptions{Devices: 2}, MemoryOptions{OffloadActivations: true}, false, "block swap or activation offload"})
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			m.Parallel, m.Memory = tc.p, tc.mem
			_, err := m.LossAndGradients(tb, dtypes.Float32, tc.checkpointing)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
