package train

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

// TestOneDevicePlanUnchanged: with Devices 0 or 1 (ShardBase or not) every
// number of the plan is what EstimateMemory gave before it planned for
// several devices (values recorded from that code), and the detail lines
// are the one-device ones.
func TestOneDevicePlanUnchanged(t *testing.T) {
	tests := []struct {
		name string
		in   func() MemoryPlanInput
		want MemoryPlan // numbers only
	}{
		{"dev nf4 1024² ckpt", func() MemoryPlanInput { return planFor(t, "dev", quant.NF4, 1024, true) },
			MemoryPlan{BaseWeights: 19299074048, Adapter: 780140544, Optimizer: 201129984, Activations: 5719818240, Workspace: 4288135168, Total: 30288297984}},
		{"dev bf16 1024² whole", func() MemoryPlanInput { return planFor(t, "dev", quant.None, 1024, false) },
			MemoryPlan{BaseWeights: 64446562304, Adapter: 780140544, Optimizer: 201129984, Activations: 89287557120, Workspace: 11361452032, Total: 166076841984}},
		{"klein-base-4b bf16 batch 2 ckpt", func() MemoryPlanInput {
			in := planFor(t, "klein-base-4b", quant.None, 1024, true)
			in.Batch = 2
			return in
		}, MemoryPlan{BaseWeights: 7751089152, Adapter: 184811520, Optimizer: 47646720, Activations: 3964502016, Workspace: 1809930649, Total: 13757980057}},
		{"klein-base-9b fp8 768² offload + 5 swapped", func() MemoryPlanInput {
			in := planFor(t, "klein-base-9b", quant.FP8, 768, true)
			in.OffloadActivations, in.BlocksOnHost = true, 5
			return in
		}, MemoryPlan{BaseWeights: 8785021440, Adapter: 331350016, Optimizer: 85426176, Activations: 1707442176, Workspace: 2418891161, Total: 13328130969, Host: 1806469632}},
		{"dev nf4 double-quant 512² batch 3 on a CPU", func() MemoryPlanInput {
			in := planFor(t, "dev", quant.NF4, 512, false)
			in.Quant.DoubleQuant, in.Batch = true, 3
			in.Device = PlanDevice{AttentionBudget: 64 << 20, Runtime: hostRuntime, ActivationSlack: hostActivationSlack}
			return in
		}, MemoryPlan{BaseWeights: 17834541696, Adapter: 780140544, Optimizer: 201129984, Activations: 88608079872, Workspace: 33923674931, Total: 141347567027}},
		{"klein-4b int8 float32 batch 4 AdamW", func() MemoryPlanInput {
			in := planFor(t, "klein-4b", quant.Int8, 1024, false)
			in.Batch, in.ComputeBytes, in.EightBitAdam = 4, 4, false
			return in
		}, MemoryPlan{BaseWeights: 4464482304, Adapter: 184811520, Optimizer: 186255360, Activations: 158815420416, Workspace: 18276489625, Total: 181927459225}},
	}
	for _, tc := range tests {
		base := EstimateMemory(tc.in())
		for _, par := range []flux2.ParallelOptions{{}, {Devices: 1}, {Devices: 1, ShardBase: true}} {
			in := tc.in()
			in.Devices, in.ShardBase = par.Devices, par.ShardBase
			got := EstimateMemory(in)
			if !slices.Equal(got.Detail, base.Detail) {
				t.Errorf("%s %+v: detail differs from Devices 0:\n%q\n%q", tc.name, par, got.Detail, base.Detail)
			}
			if strings.Contains(got.String(), "per device") || strings.Contains(got.String(), "replicated") {
				t.Errorf("%s %+v: one-device plan talks of devices:\n%s", tc.name, par, got)
			}
			got.Detail = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %+v:\n got %+v\nwant %+v", tc.name, par, got, tc.want)
			}
		}
	}
}

// attentionBlockBytes is the plan's attention query block for batch b.
func attentionBlockBytes(in MemoryPlanInput, b int) int64 {
	n := in.Resolution / 16 * (in.Resolution / 16)
	tok := n + in.TextTokens
	rows := flux2.AttentionBlockRows(flux2.AttentionBudgetGPU, b, in.Config.NumHeads, tok)
	return attnBlockTensors * int64(b) * int64(in.Config.NumHeads) * int64(rows) * int64(tok) * 4
}

// TestParallelPlan: on N devices the plan is one device's: the activations
// of Batch/N samples (the saved ones exactly half of one device's on two),
// the adapter, its gradients and the optimizer state whole, the base whole
// unless sharded, and with ShardBase 1/N of every base tensor whose first
// axis divides plus the largest block's weights all-gathered in compute
// dtype.
func TestParallelPlan(t *testing.T) {
	tests := []struct {
		variant string
		scheme  quant.Scheme
		ckpt    bool
		batch   int
		devices int
	}{
		{"dev", quant.NF4, false, 2, 2},
		{"dev", quant.None, false, 4, 2},
		{"dev", quant.NF4, false, 8, 4},
		{"klein-4b", quant.None, false, 2, 2},
		{"klein-base-9b", quant.FP8, true, 6, 2},
	}
	for _, tc := range tests {
		one := planFor(t, tc.variant, tc.scheme, 1024, tc.ckpt)
		one.Batch = tc.batch
		share := one
		share.Batch = tc.batch / tc.devices
		p1, pShare := EstimateMemory(one), EstimateMemory(share)
		for _, shard := range []bool{false, true} {
			in := one
			in.Devices, in.ShardBase = tc.devices, shard
			p := EstimateMemory(in)
			name := tc.variant + " " + orNone(string(tc.scheme)) + in.perDevice()
			// Activations: those of the device's share of the batch.
			if p.Activations != pShare.Activations {
				t.Errorf("%s: activations %d, want %d (batch %d on one device)", name, p.Activations, pShare.Activations, share.Batch)
			}
			if tc.devices == 2 {
				saved := p.Activations - attentionBlockBytes(in, share.Batch)
				saved1 := p1.Activations - attentionBlockBytes(one, one.Batch)
				if 2*saved != saved1 {
					t.Errorf("%s: saved activations %d, not half of one device's %d", name, saved, saved1)
				}
			}
			// Replicated: adapter, gradients, optimizer state.
			if p.Adapter != p1.Adapter || p.Optimizer != p1.Optimizer {
				t.Errorf("%s: adapter %d / optimizer %d, one device %d / %d", name, p.Adapter, p.Optimizer, p1.Adapter, p1.Optimizer)
			}
			if !strings.Contains(p.String(), "per device ("+strings.TrimPrefix(in.perDevice(), " per device (")) ||
				!strings.Contains(p.String(), "whole on every device (replicated)") {
				t.Errorf("%s: detail does not say it is per device:\n%s", name, p)
			}
			if !shard {
				if p.BaseWeights != p1.BaseWeights || p.Workspace != pShare.Workspace {
					t.Errorf("%s: replicated base %d / workspace %d, want %d / %d", name, p.BaseWeights, p.Workspace, p1.BaseWeights, pShare.Workspace)
				}
				continue
			}
			// Sharded: 1/N of what splits, the rest whole.
			var whole, split, gather int64
			blocks := map[string]int64{}
			for pname, dims := range in.Config.ParamShapes() {
				if blk := flux2.BlockOf(pname); blk != "" {
					blocks[blk] += numel(dims) * 2
				}
				parts, _ := in.storedParts(pname, dims, 2)
				for _, part := range parts {
					if flux2.ShardsOnFirstAxis(part.dims, tc.devices) {
						split += part.bytes
					} else {
						whole += part.bytes
						if len(part.dims) > 1 {
							t.Errorf("%s: %s %v does not split", name, pname, part.dims)
						}
					}
				}
			}
			for _, b := range blocks {
				gather = max(gather, b)
			}
			if split+whole != p1.BaseWeights || whole > 1<<20 {
				t.Errorf("%s: %d split + %d whole bytes, one device holds %d", name, split, whole, p1.BaseWeights)
			}
			if want := split/int64(tc.devices) + whole; p.BaseWeights != want {
				t.Errorf("%s: sharded base %d, want %d (1/%d of %d + %d whole)", name, p.BaseWeights, want, tc.devices, split, whole)
			}
			if got := p.Workspace - pShare.Workspace; got != gather {
				t.Errorf("%s: sharding adds %d bytes of workspace, want the largest block's %d in bf16", name, got, gather)
			}
			if p.Total != p.BaseWeights+p.Adapter+p.Optimizer+p.Activations+p.Workspace {
				t.Errorf("%s: total %d is not the sum of its parts", name, p.Total)
			}
		}
	}
}

// TestShardedBaseMatchesModel: with a sharded base the plan's bytes per
// device are what the model's stored variables come to when each that
// flux2.ShardsOnFirstAxis splits holds 1/N (the rule the parallel step
// places them by), for every scheme and device counts that split some
// tensors of the tiny model and not others.
func TestShardedBaseMatchesModel(t *testing.T) {
	cfg := flux2.TinyConfig()
	for _, opts := range []quant.Options{{Scheme: quant.None}, {Scheme: quant.Int8}, {Scheme: quant.FP8}, {Scheme: quant.NF4}, {Scheme: quant.NF4, DoubleQuant: true}} {
		m := quantizedModel(t, cfg, opts)
		for _, n := range []int{2, 3, 4} {
			var held, whole int64
			for _, v := range m.VariableNames() {
				val, err := m.Variable(v).Value()
				if err != nil {
					t.Fatal(err)
				}
				if b := int64(val.Memory()); flux2.ShardsOnFirstAxis(val.Shape().Dimensions, n) {
					held += b / int64(n)
				} else {
					held += b
					whole += b
				}
			}
			in := MemoryPlanInput{Config: cfg, Quant: opts, ComputeBytes: 4, Resolution: 64, TextTokens: 8, Batch: n, Devices: n, ShardBase: true}
			if got := EstimateMemory(in).BaseWeights; got != held {
				t.Errorf("%s double-quant %v on %d devices: planned %d bytes of base per device, the model's shards hold %d", orNone(string(opts.Scheme)), opts.DoubleQuant, n, got, held)
			}
			if n == 3 && whole == 0 { // e.g. img_in [96, 16] splits, final_layer.linear [16, 96] does not
				t.Errorf("%s on %d devices: every tensor splits; the case tests nothing whole", orNone(string(opts.Scheme)), n)
			}
		}
	}
}

func TestShardsOnFirstAxis(t *testing.T) {
	tests := []struct {
		dims    []int
		devices int
		want    bool
	}{
		{[]int{6144, 3072}, 2, true},
		{[]int{6144}, 4, true},
		{[]int{16, 96}, 3, false},
		{[]int{96, 16}, 3, true},
		{nil, 2, false},      // a scalar stays whole
		{[]int{8}, 1, false}, // one device splits nothing
		{[]int{8}, 0, false},
	}
	for _, tc := range tests {
		if got := flux2.ShardsOnFirstAxis(tc.dims, tc.devices); got != tc.want {
			t.Errorf("ShardsOnFirstAxis(%v, %d) = %v, want %v", tc.dims, tc.devices, got, tc.want)
		}
	}
}

// TestFitSeveralDevices: on several devices "auto" moves nothing to the
// host however tight the budget (the step refuses offload and block swap),
// checkpointing stays as given, and asking for either is an error naming
// its key. On one device the same budget moves blocks.
func TestFitSeveralDevices(t *testing.T) {
	const gib = 1 << 30
	auto := MemoryModes{Offload: "auto", BlocksOnHost: "auto"}
	tests := []struct {
		devices int
		shard   bool
		budget  int64
		moves   bool
	}{
		{1, false, 22 * gib, true},
		{2, false, 22 * gib, false},
		{2, true, 22 * gib, false},
		{4, true, 8 * gib, false},
		{2, false, 0, false},
	}
	for _, tc := range tests {
		for _, ckpt := range []bool{false, true} {
			in := planFor(t, "dev", quant.NF4, 1024, ckpt)
			in.Batch, in.Devices, in.ShardBase = 4, tc.devices, tc.shard
			got, err := auto.Fit(in, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			moved := got.OffloadActivations || got.BlocksOnHost > 0
			if moved != tc.moves || got.Checkpointing != ckpt || got.Parallel() != in.Parallel() {
				t.Errorf("%d devices (shard %v), checkpointing %v, %d GiB: fit to %+v checkpointing %v %+v", tc.devices, tc.shard, ckpt, tc.budget/gib,
					got.MemoryOptions(), got.Checkpointing, got.Parallel())
			}
		}
	}
	in := planFor(t, "dev", quant.NF4, 1024, false)
	in.Devices = 2
	for _, mm := range []MemoryModes{{Offload: "on"}, {BlocksOnHost: "3"}} {
		_, err := mm.Fit(in, 0)
		if err == nil || !strings.Contains(err.Error(), "2 devices") {
			t.Errorf("%+v on 2 devices: error %v", mm, err)
		}
	}
	if got, err := (MemoryModes{Offload: "off", BlocksOnHost: "0"}).Fit(in, 0); err != nil || got.MemoryOptions() != (flux2.MemoryOptions{}) {
		t.Errorf("off on 2 devices: %+v, %v", got.MemoryOptions(), err)
	}
}

// TestSuggestSeveralDevices: klein-base-9B in bf16 at 1024², batch 2 on two
// devices (54.3 GiB each with the base replicated, 46.7 GiB sharded, 42.4
// GiB on four with the base sharded) on 48 and 44 GiB devices.
func TestSuggestSeveralDevices(t *testing.T) {
	const gib = 1 << 30
	in := planFor(t, "klein-base-9b", quant.None, 1024, false)
	in.Batch, in.Devices = 2, 2
	tests := []struct {
		budget   int64
		shard    bool
		want     []string // prefixes of suggestions, in order
		refusals []string // never suggested
	}{
		{48 * gib, false, []string{"turn gradient checkpointing on (train.gradient_checkpointing: on)", "shard the base (train.shard_base: true)", "use more devices (3), sharding the base, with a batch of 3 to split over them (train.devices: 3, train.shard_base: true, train.batch_size: 3)",
			"quantize the base to fp8", "quantize the base to nf4", "train at 768 px", "train at 512 px"}, nil},
		{44 * gib, false, []string{"turn gradient checkpointing on (train.gradient_checkpointing: on)", "use more devices (4), sharding the base, with a batch of 4 to split over them (train.devices: 4, train.shard_base: true, train.batch_size: 4)",
			"quantize the base to nf4", "train at 768 px", "train at 512 px"}, nil},
		{44 * gib, true, []string{"turn gradient checkpointing on (train.gradient_checkpointing: on)", "use more devices (4), with a batch of 4 to split over them (train.devices: 4, train.batch_size: 4)",
			"quantize the base to fp8", "quantize the base to nf4", "train at 768 px", "train at 512 px"}, nil},
		{30 * gib, false, []string{"turn gradient checkpointing on (train.gradient_checkpointing: on)", "train at 768 px", "train at 512 px"}, nil}, // no device count up to 8 fits
		{18 * gib, false, []string{"shard the base with gradient checkpointing (train.shard_base: true, train.gradient_checkpointing: on)"}, nil},
		{60 * gib, false, nil, nil}, // fits
	}
	for _, tc := range tests {
		c := in
		c.ShardBase = tc.shard
		got := Suggest(c, tc.budget)
		ok := len(got) == len(tc.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], tc.want[i]) && strings.HasSuffix(got[i], "GiB per device)")
		}
		if !ok {
			t.Errorf("shard %v on %d GiB: suggestions\n%q\nwant\n%q", tc.shard, tc.budget/gib, got, tc.want)
		}
		for _, s := range got {
			for _, no := range []string{"offload", "host memory"} {
				if strings.Contains(s, no) {
					t.Errorf("on 2 devices suggested %q", s)
				}
			}
		}
	}
	// One device: the suggestions are the one-device ones.
	one := in
	one.Devices = 1
	if got := Suggest(one, 48*gib); len(got) == 0 || !strings.HasPrefix(got[0], "turn gradient checkpointing on") {
		t.Errorf("one device: %q", got)
	}
}
