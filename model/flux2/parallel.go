package flux2

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/multidevice"
)

// ParallelOptions spreads a training step over several devices of the
// backend, as one program partitioned by XLA (GoMLX AutoSharding on a 1-D
// mesh): the batch is split over the devices, every device holds the
// trainable (LoRA) parameters whole, and the gradients are summed across
// devices inside the step. With gradient checkpointing every block-wise
// stage program is partitioned the same way (exec_blockwise_mesh.go). The
// zero value runs on one device.
type ParallelOptions struct {
	// Devices is the number of devices (0 or 1: one).
	Devices int
	// ShardBase splits every frozen base weight over the devices on its
	// first axis, so each device holds 1/Devices of the base; XLA gathers
	// a weight where it is used. Weights whose first axis does not divide
	// stay whole on every device.
	ShardBase bool
}

// ShardsOnFirstAxis reports whether a frozen weight of dimensions dims is
// split over devices on its first axis when the base is sharded
// (ParallelOptions.ShardBase): it has a first axis and that axis divides by
// devices. Other weights (scalars, axes that do not divide) stay whole on
// every device. With devices < 2 nothing is split.
func ShardsOnFirstAxis(dims []int, devices int) bool {
	return devices > 1 && len(dims) > 0 && dims[0]%devices == 0
}

// devices is the device count the options ask for (at least 1).
func (o ParallelOptions) devices() int { return max(o.Devices, 1) }

// Validate checks the options against the memory options and the backend's
// device count have (0: unknown).
func (o ParallelOptions) Validate(mem MemoryOptions, have int) error {
	if o.Devices < 0 {
		return fmt.Errorf("devices must be >= 1, got %d", o.Devices)
	}
	if o.ShardBase && o.devices() < 2 {
		return fmt.Errorf("sharding the base needs several devices, got %d", o.devices())
	}
	if have > 0 && o.Devices > have {
		return fmt.Errorf("%d devices requested but the backend has %d", o.Devices, have)
	}
	// Block swap and activation offload move single-device tensors between
	// host and device; they are not written for a mesh yet.
	if o.devices() > 1 && mem.Streams() {
		return fmt.Errorf("several devices do not combine with block swap or activation offload yet (set train.offload_activations: off and model.blocks_on_host: 0)")
	}
	return nil
}

// parallelProgram is a compiled multi-device training step.
type parallelProgram struct {
	prog *multidevice.Program
	// frozenNames are the frozen weights in program order, split on the
	// axes of frozenSplit (see frozenLayout).
	frozenNames []string
	frozenSplit []int
}

// frozenPlacement is the frozen weights as placed on the devices, kept
// between steps and shared by every multi-device program of the model
// (whole-graph and block-wise): placed holds the device shards of names,
// from the host values they were cut from (a weight set anew is placed
// again); key names the placement (device count, sharding, names).
type frozenPlacement struct {
	key    string
	names  []string
	placed []*distributed.Tensor
	from   []*tensors.Tensor
}

// lossAndGradientsParallel is lossAndGradientsWhole on several devices:
// the same graph, partitioned by XLA over a mesh of Parallel.Devices.
func (m *Model) lossAndGradientsParallel(tb *TrainBatch, dtype dtypes.DType) (*Gradients, error) {
	if err := m.Attention.Validate(); err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	n := m.Parallel.devices() // the batch splits over them (see LossAndGradients)
	trainable := m.TrainableNames()
	frozen, split := m.frozenLayout()
	hasGuidance, hasWeight, hasMask := tb.Guidance != nil, tb.Weight != nil, tb.Mask != nil
	sig := fmt.Sprintf("parallel|%d|%v|%s|%v|%v|%s|%s|%s", n, m.Parallel.ShardBase, dtype, hasGuidance, hasWeight,
		strings.Join(frozen, ","), strings.Join(trainable, ","), m.Attention.signature())
	if hasMask {
		sig += "|mask" // unmasked batches keep the signature they always had
	}
	pp, err := m.parallelProgram(sig, frozen, split, trainable, hasGuidance, hasWeight, hasMask, dtype)
	if err != nil {
		return nil, err
	}
	placed, err := m.placeFrozen(pp.frozenNames, pp.frozenSplit)
	if err != nil {
		return nil, err
	}
	params := make([]*tensors.Tensor, len(trainable))
	for i, name := range trainable {
		if params[i], err = m.value(name); err != nil {
			return nil, err
		}
	}
	res, err := pp.prog.RunPlaced(tb.trainInputs(), params, placed)
	if err != nil {
		return nil, fmt.Errorf("flux2 forward+backward on %d devices: %w", n, err)
	}
	g := &Gradients{Loss: res.Loss, Grads: map[string]*tensors.Tensor{}}
	for i, name := range trainable {
		g.Grads[name] = res.Grads[i]
	}
	return g, nil
}

// parallelProgram returns the cached program of a signature, building it.
func (m *Model) parallelProgram(sig string, frozen []string, split []int, trainable []string, hasGuidance, hasWeight, hasMask bool, dtype dtypes.DType) (*parallelProgram, error) {
	if p, ok := m.programs[sig]; ok {
		return p.(*parallelProgram), nil
	}
	batchInputs := 5 + boolInt(hasGuidance) + 1 + boolInt(hasWeight) + boolInt(hasMask)
	layout := multidevice.Layout{Batch: batchInputs, Trainable: len(trainable), FrozenSplit: split}
	names := append(slices.Clone(trainable), frozen...)
	loss := func(batch, trainableNodes, frozenNodes []*Node) *Node {
		bn, rest := splitBatchNodes(batch, hasGuidance)
		target, rest := rest[0], rest[1:]
		var weight, mask *Node
		if hasWeight {
			weight, rest = rest[0], rest[1:]
		}
		if hasMask {
			mask = rest[0]
		}
		w := m.weightsOf(names, append(slices.Clone(trainableNodes), frozenNodes...))
		out := m.Config.Forward(w, ConvertDType(bn.x, dtype), bn.ctx, bn.t, bn.guidance, bn.cos, bn.sin)
		return MaskedFlowMatchingLoss(out, target, weight, mask)
	}
	if err := m.useMesh(); err != nil {
		return nil, err
	}
	prog, err := multidevice.NewProgramOn(m.backend, m.mesh, multidevice.AutoSharding, layout, loss)
	if err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	p := &parallelProgram{prog: prog, frozenNames: frozen, frozenSplit: split}
	m.programs[sig] = p
	return p, nil
}

// useMesh makes m.mesh a mesh of Parallel.Devices devices. A new mesh
// drops the placement made on the old one, and the compiled programs: those
// partitioned over the old mesh take no input placed on the new one.
func (m *Model) useMesh() error {
	if m.mesh != nil && m.mesh.NumDevices() == m.Parallel.devices() {
		return nil
	}
	mesh, err := multidevice.NewMesh(m.backend, m.Parallel.devices())
	if err != nil {
		return fmt.Errorf("flux2: %w", err)
	}
	if m.mesh != nil {
		m.programs = map[string]any{}
	}
	m.mesh, m.placement = mesh, nil
	return nil
}

// frozenLayout returns the model's frozen weights in placement order and
// the axis each is split on over the devices: with ShardBase its first
// axis when that divides by the device count, otherwise
// multidevice.Replicated (whole on every device).
func (m *Model) frozenLayout() (names []string, split []int) {
	for _, name := range m.VariableNames() {
		if m.vars[name].Trainable {
			continue
		}
		axis := multidevice.Replicated
		if m.Parallel.ShardBase && ShardsOnFirstAxis(m.vars[name].Shape().Dimensions, m.Parallel.devices()) {
			axis = 0
		}
		names, split = append(names, name), append(split, axis)
	}
	return names, split
}

// placeFrozen puts the frozen weights names on the devices of m.mesh
// (split on the axes of split, or whole) unless they are there already
// from the same host values; the single-device copy of each is released.
func (m *Model) placeFrozen(names []string, split []int) ([]*distributed.Tensor, error) {
	if err := m.useMesh(); err != nil {
		return nil, err
	}
	values := make([]*tensors.Tensor, len(names))
	for i, name := range names {
		v, err := m.value(name)
		if err != nil {
			return nil, err
		}
		values[i] = v
	}
	key := fmt.Sprintf("%d|%v|%s", m.Parallel.devices(), m.Parallel.ShardBase, strings.Join(names, ","))
	if pl := m.placement; pl != nil && pl.key == key && slices.Equal(values, pl.from) {
		return pl.placed, nil
	}
	m.placement = nil // the old shards go with it
	for i, v := range values {
		if err := toHost(v); err != nil {
			return nil, fmt.Errorf("flux2: %s back to the host: %w", names[i], err)
		}
	}
	placed, err := multidevice.Place(m.backend, m.mesh, "frozen weight", values, split)
	if err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	m.placement = &frozenPlacement{key: key, names: names, placed: placed, from: values}
	return placed, nil
}

// DeviceBytes returns, per device, the bytes of frozen weights placed
// there for multi-device steps (nil before the first one): with ShardBase
// about 1/Devices of the base each.
func (m *Model) DeviceBytes() []int64 {
	if m.placement == nil {
		return nil
	}
	var out []int64
	for _, dt := range m.placement.placed {
		shards := dt.Shards()
		if out == nil {
			out = make([]int64, len(shards))
		}
		for d, s := range shards {
			out[d] += int64(s.Memory())
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
