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
	skipUnlessDevices(t, 4)
	trainable := []string{"double_blocks.0.img_attn.qkv.weight", "double_blocks.1.txt_mlp.0.weight", "single_blocks.1.linear1.weight", "final_layer.linear.weight"}
	ref := parallelModel(t, trainable, ParallelOptions{})
	batches := parallelBatches(t, ref)
	want := oneDeviceSteps(t, ref, batches)
	for _, p := range parallelOptionCases {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			m := parallelModel(t, trainable, p)
			checkParallelSteps(t, m, batches, want, false)
			checkDeviceBytes(t, m, ref)
		})
	}
}

// TestParallelCheckpointingMatchesOneDevice: the block-wise step (gradient
// checkpointing) with every stage program split over 2 and 4 devices — data
// parallel and with the base sharded — gives the loss and gradients of the
// one-device whole-graph step (rel L2 ≤ 1e-5) over two steps: with the
// adapter in the blocks only (the backward pass stops at the first double
// block), and with the embedding trained too (the cotangents of vec and the
// modulations run down to it). With ShardBase each device holds about 1/N
// of the base.
func TestParallelCheckpointingMatchesOneDevice(t *testing.T) {
	skipUnlessDevices(t, 4)
	blocks := []string{"double_blocks.0.img_attn.qkv.weight", "double_blocks.1.txt_mlp.0.weight", "single_blocks.1.linear1.weight", "final_layer.linear.weight"}
	sets := []struct {
		name      string
		trainable []string
		options   []ParallelOptions
	}{
		{"blocks", blocks, parallelOptionCases},
		{"embedding", append([]string{"img_in.weight", "double_stream_modulation_img.lin.weight"}, blocks[1:]...),
			[]ParallelOptions{{Devices: 4}, {Devices: 2, ShardBase: true}}}, // one data-parallel, one sharded-base case
	}
	for _, set := range sets {
		ref := parallelModel(t, set.trainable, ParallelOptions{})
		batches := parallelBatches(t, ref)
		want := oneDeviceSteps(t, ref, batches)
		for _, p := range set.options {
			t.Run(fmt.Sprintf("%s/%+v", set.name, p), func(t *testing.T) {
				m := parallelModel(t, set.trainable, p)
				checkParallelSteps(t, m, batches, want, true)
				checkDeviceBytes(t, m, ref)
			})
		}
	}
}

// parallelOptionCases are the device counts and placements the parallel
// tests run.
var parallelOptionCases = []ParallelOptions{{Devices: 2}, {Devices: 4}, {Devices: 2, ShardBase: true}, {Devices: 4, ShardBase: true}}

// skipUnlessDevices skips a test on a backend with fewer than n devices.
func skipUnlessDevices(t *testing.T, n int) {
	t.Helper()
	if b := testutil.Backend(t); b.NumDevices() < n {
		t.Skipf("backend %s has %d device(s); FLORA_TEST_BACKEND=xla:cpu gives 4 virtual ones", b.Name(), b.NumDevices())
	}
}

// parallelModel is the tiny model (seed 3) with trainable set trainable and
// the parallel options p.
func parallelModel(t *testing.T, trainable []string, p ParallelOptions) *Model {
	t.Helper()
	m := randomModel(t, TinyConfig(), 3)
	for _, n := range trainable {
		if m.Variable(n) == nil {
			t.Fatalf("no variable %s", n)
		}
		m.Variable(n).SetTrainable(true)
	}
	m.Parallel = p
	return m
}

// parallelBatches are two global batches of 4; the second has per-sample
// weights, which exercise the weighted loss.
func parallelBatches(t *testing.T, m *Model) []*TrainBatch {
	batches := []*TrainBatch{randomBatch(t, m, 4, 3, 5, 4, 4), randomBatch(t, m, 4, 3, 5, 4, 5)}
	batches[1].Weight = batches[1].T
	return batches
}

// oneDeviceSteps runs the one-device whole-graph step of each batch.
func oneDeviceSteps(t *testing.T, m *Model, batches []*TrainBatch) []*Gradients {
	t.Helper()
	var want []*Gradients
	for _, tb := range batches {
		g, err := m.LossAndGradients(tb, dtypes.Float32, false)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, g)
	}
	return want
}

// checkParallelSteps runs a step of each batch on m and compares its loss
// and gradients with want (rel L2 ≤ 1e-5).
func checkParallelSteps(t *testing.T, m *Model, batches []*TrainBatch, want []*Gradients, checkpointing bool) {
	t.Helper()
	const tol = 1e-5
	for step, tb := range batches {
		got, err := m.LossAndGradients(tb, dtypes.Float32, checkpointing)
		if err != nil {
			t.Fatal(err)
		}
		e := testutil.RelL2([]float32{got.Loss}, []float32{want[step].Loss})
		t.Logf("step %d: loss rel %.2g", step, e)
		if e > tol {
			t.Errorf("step %d: loss %.9g, one device %.9g", step, got.Loss, want[step].Loss)
		}
		if len(got.Grads) != len(want[step].Grads) {
			t.Errorf("step %d: %d gradients, want %d", step, len(got.Grads), len(want[step].Grads))
		}
		for n, g := range want[step].Grads {
			if got.Grads[n] == nil {
				t.Errorf("step %d: no gradient for %s", step, n)
				continue
			}
			testutil.CheckRelL2Tensors(t, fmt.Sprintf("step %d grad %s", step, n), got.Grads[n], g, tol)
		}
	}
}

// checkDeviceBytes checks that each device holds the whole frozen base of
// ref, or about 1/N of it with ShardBase.
func checkDeviceBytes(t *testing.T, m, ref *Model) {
	t.Helper()
	var baseBytes int64
	for _, n := range ref.VariableNames() {
		if !ref.Variable(n).Trainable {
			baseBytes += int64(ref.Variable(n).Shape().Memory())
		}
	}
	p := m.Parallel
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
			refusal{ParallelOptions{Devices: 2}, MemoryOptions{}, true, "a batch of 3 does not split over 2 devices"},
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
