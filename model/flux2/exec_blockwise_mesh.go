package flux2

import (
	"cmp"
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/multidevice"
)

// The block-wise training step on several devices (ParallelOptions). Every
// stage program is partitioned by XLA over the model's mesh (AutoSharding),
// as the whole-graph step is: the batch values — the batch's inputs, every
// activation and every cotangent, all batch-first — stay on the devices
// split on axis 0; the stage weights come from the model's frozen placement
// (placed once, split with ShardBase) and from per-step replicas of the
// trainable ones; the loss and the weight gradients come back replicated.
// Nothing goes through the host between stages but the loss scalar and the
// final gradients.
//
// The block-wise code passes *tensors.Tensor handles around as on one
// device; a meshStep maps each handle to the values on the devices behind
// it. The handle of a batch value the step computed is its device-0 shard;
// that of a replicated output is device 0's copy, a plain tensor (the
// others are dropped). Block swap and activation offload move single-device
// tensors, so they stay refused with several devices (see
// ParallelOptions.Validate).

// meshStep holds the device values of one block-wise step on several
// devices.
type meshStep struct {
	m *Model
	// computed maps the handles of the batch values the step's programs
	// returned to their shards, which release frees.
	computed map[*tensors.Tensor]*distributed.Tensor
	// placed maps the caller's tensors (the batch's, the trainable
	// weights') to the shards the step cut from them, freed by close.
	placed map[*tensors.Tensor]*distributed.Tensor
	// frozen are the frozen weights by name, from the model's placement.
	frozen map[string]*distributed.Tensor
}

// stageOutputs says how a stage program's outputs lie on several devices:
// a leading scalar loss (replicated), then batch values (activations or
// cotangents, split on the batch axis), then the gradients of the stage's
// trainable weights (replicated).
type stageOutputs struct {
	loss  bool
	batch int
	grads bool
}

// newMeshStep returns the device table of a step on m's devices (on
// m.mesh, made if needed), or nil on one device (where handles are the
// values).
func newMeshStep(m *Model) (*meshStep, error) {
	if m.Parallel.devices() < 2 {
		return nil, nil
	}
	if err := m.useMesh(); err != nil {
		return nil, err
	}
	return &meshStep{m: m, computed: map[*tensors.Tensor]*distributed.Tensor{}, placed: map[*tensors.Tensor]*distributed.Tensor{}}, nil
}

// signature tells a partitioned stage program from the single-device one
// and from those of other device counts or base sharding.
func (ms *meshStep) signature() string {
	return fmt.Sprintf("mesh|%d|%v", ms.m.Parallel.devices(), ms.m.Parallel.ShardBase)
}

// partition makes e a program partitioned over the model's mesh with the
// output placement of outs (nTrainable: the stage's trainable weights).
func (ms *meshStep) partition(e *Exec, outs stageOutputs, nTrainable int) (*Exec, error) {
	mesh := ms.m.mesh
	split, err := multidevice.SplitSpec(mesh, 1, 0) // the trailing axes stay whole
	if err != nil {
		return nil, fmt.Errorf("flux2: %w", err)
	}
	replicated := distributed.NewReplicatedShardingSpec(mesh)
	var specs []*distributed.ShardingSpec
	if outs.loss {
		specs = append(specs, replicated)
	}
	for range outs.batch {
		specs = append(specs, split)
	}
	if outs.grads {
		for range nTrainable {
			specs = append(specs, replicated)
		}
	}
	// An output without a spec would come back whole on every device:
	// every one is declared.
	return e.AutoSharding(mesh).WithOutputShardingSpecs(specs...), nil
}

// run executes a partitioned stage program on the batch values in (handles)
// and the weights of s, and returns the handles of its outputs.
func (ms *meshStep) run(e *Exec, kind string, s stageWeights, in []*tensors.Tensor, outs stageOutputs) ([]*tensors.Tensor, error) {
	args := make([]*distributed.Tensor, 0, len(in)+len(s.rel))
	for _, t := range in {
		dt, err := ms.batchValue(t)
		if err != nil {
			return nil, fmt.Errorf("flux2 %s: %w", kind, err)
		}
		args = append(args, dt)
	}
	for _, r := range s.rel {
		dt, err := ms.weight(s.prefix + r)
		if err != nil {
			return nil, fmt.Errorf("flux2 %s: %w", kind, err)
		}
		args = append(args, dt)
	}
	specs := make([]*distributed.ShardingSpec, len(args))
	anyArgs := make([]any, len(args))
	for i, dt := range args {
		specs[i], anyArgs[i] = dt.ShardingSpec(), dt
	}
	// Read when the program is built for new shapes: the global shapes of
	// its parameters follow from them.
	e.WithInputShardingSpecs(specs...)
	results, err := e.Exec(anyArgs...)
	if err != nil {
		return nil, fmt.Errorf("flux2 %s on %d devices: %w", kind, ms.m.Parallel.devices(), err)
	}
	return ms.collect(results, outs)
}

// collect turns a program's device-major results (all of device 0's, then
// device 1's...) into handles: a batch value is registered with its shards,
// a replicated one keeps device 0's copy.
func (ms *meshStep) collect(results []*tensors.Tensor, outs stageOutputs) ([]*tensors.Tensor, error) {
	n := ms.m.Parallel.devices()
	if len(results)%n != 0 {
		return nil, fmt.Errorf("flux2: %d results from %d devices", len(results), n)
	}
	per := len(results) / n
	first := boolInt(outs.loss)
	handles := make([]*tensors.Tensor, per)
	var firstErr error
	for i := range per {
		shards := make([]*tensors.Tensor, n)
		for d := range n {
			shards[d] = results[d*per+i]
		}
		handles[i] = shards[0]
		if i < first || i >= first+outs.batch {
			release(shards[1:]...)
			continue
		}
		spec, err := multidevice.SplitSpec(ms.m.mesh, shards[0].Rank(), 0)
		var dt *distributed.Tensor
		if err == nil {
			dt, err = distributed.NewTensor(spec, shards)
		}
		if err != nil {
			release(shards...)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		ms.computed[shards[0]] = dt
	}
	if firstErr != nil {
		ms.release(handles...)
		return nil, fmt.Errorf("flux2: output of a stage on %d devices: %w", n, firstErr)
	}
	return handles, nil
}

// batchValue returns the device values behind a batch value's handle: one
// the step computed, or a batch input split on axis 0 (placed on first use).
func (ms *meshStep) batchValue(t *tensors.Tensor) (*distributed.Tensor, error) {
	if dt := ms.computed[t]; dt != nil {
		return dt, nil
	}
	return ms.place(t, 0)
}

// weight returns the device values of a stage weight: a frozen one from the
// model's placement, a trainable one replicated (once per step).
func (ms *meshStep) weight(name string) (*distributed.Tensor, error) {
	if !ms.m.vars[name].Trainable {
		if ms.frozen == nil {
			if err := ms.placeFrozen(); err != nil {
				return nil, err
			}
		}
		if dt := ms.frozen[name]; dt != nil {
			return dt, nil
		}
		return nil, fmt.Errorf("frozen weight %s is not placed on the devices", name)
	}
	t, err := ms.m.value(name)
	if err != nil {
		return nil, err
	}
	return ms.place(t, multidevice.Replicated)
}

// placeFrozen looks the frozen weights up in the model's placement, placing
// them if needed (as the whole-graph step does, so both share it).
func (ms *meshStep) placeFrozen() error {
	names, split := ms.m.frozenLayout()
	placed, err := ms.m.placeFrozen(names, split)
	if err != nil {
		return err
	}
	ms.frozen = make(map[string]*distributed.Tensor, len(names))
	for i, name := range names {
		ms.frozen[name] = placed[i]
	}
	return nil
}

// place returns the shards the step cut from the caller's tensor t on axis
// (or multidevice.Replicated), cutting and placing them on first use.
func (ms *meshStep) place(t *tensors.Tensor, axis int) (*distributed.Tensor, error) {
	if dt := ms.placed[t]; dt != nil {
		return dt, nil
	}
	dts, err := multidevice.Place(ms.m.backend, ms.m.mesh, "step input", []*tensors.Tensor{t}, []int{axis})
	if err != nil {
		return nil, err
	}
	ms.placed[t] = dts[0]
	return dts[0], nil
}

// zerosLike returns the handle of a float32 batch value of zeros with the
// global shape of the batch value t, made on the devices.
func (ms *meshStep) zerosLike(t *tensors.Tensor) (*tensors.Tensor, error) {
	dt := ms.computed[t]
	if dt == nil {
		return nil, fmt.Errorf("flux2: zeros like a tensor that is no batch value of the step")
	}
	shards := make([]*tensors.Tensor, dt.NumShards())
	for d := range shards {
		shards[d] = tensors.FromShape(shapes.Make(dtypes.Float32, dt.ShardShape().Dimensions...))
		if err := shards[d].MaterializeOnDevice(ms.m.backend, false, backends.DeviceNum(d)); err != nil {
			release(shards...)
			return nil, fmt.Errorf("flux2: zeros on device %d: %w", d, err)
		}
		shards[d].FinalizeLocal()
	}
	zeros, err := distributed.NewTensor(dt.ShardingSpec(), shards)
	if err != nil {
		release(shards...)
		return nil, fmt.Errorf("flux2: zeros on the devices: %w", err)
	}
	ms.computed[shards[0]] = zeros
	return shards[0], nil
}

// release frees the values behind handles now: every shard of a computed
// batch value, or the tensor itself otherwise (as on one device).
func (ms *meshStep) release(handles ...*tensors.Tensor) {
	for _, t := range handles {
		if dt := ms.computed[t]; dt != nil {
			_ = dt.FinalizeAll()
			delete(ms.computed, t)
			continue
		}
		release(t)
	}
}

// close frees what the step placed from the caller's tensors and whatever
// computed value is left.
func (ms *meshStep) close() {
	for t, dt := range ms.computed {
		_ = dt.FinalizeAll()
		delete(ms.computed, t)
	}
	for t, dt := range ms.placed {
		_ = dt.FinalizeAll()
		delete(ms.placed, t)
	}
}
