package multidevice

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/support/xslices"
)

// SplitSpec is the spec of a rank-`rank` tensor split on axis over the mesh
// axis "data" (Replicated: copied to every device). Every axis is named, so
// Shardy gets a spec of the tensor's rank.
func SplitSpec(mesh *distributed.DeviceMesh, rank, axis int) (*distributed.ShardingSpec, error) {
	b := distributed.BuildSpec(mesh)
	for i := 0; i < rank; i++ {
		if i == axis {
			b = b.S(AxisName)
		} else {
			b = b.R()
		}
	}
	spec, err := b.Done()
	if err != nil {
		return nil, fmt.Errorf("sharding spec (rank %d, split axis %d): %w", rank, axis, err)
	}
	return spec, nil
}

// shard splits t on axis over the mesh (Replicated: one copy per device),
// on the host.
func (p *Program) shard(what string, t *tensors.Tensor, axis int) (*distributed.Tensor, error) {
	return shardOn(p.mesh, what, t, axis)
}

// shardOn splits t on axis over mesh (Replicated: one copy per device), on
// the host.
func shardOn(mesh *distributed.DeviceMesh, what string, t *tensors.Tensor, axis int) (*distributed.Tensor, error) {
	spec, err := SplitSpec(mesh, t.Rank(), axis)
	if err == nil {
		var dt *distributed.Tensor
		if dt, err = distributed.ShardTensor(spec, t); err == nil {
			return dt, nil
		}
	}
	return nil, fmt.Errorf("multidevice: placing %s %s on %d devices: %w", what, t.Shape(), mesh.NumDevices(), err)
}

// place cuts the batch and trainable inputs into per-device shards in
// program order; SPMD programs get the device indices first.
func (p *Program) place(batch, trainable []*tensors.Tensor) ([]*distributed.Tensor, error) {
	var out []*distributed.Tensor
	add := func(what string, t *tensors.Tensor, axis int) error {
		dt, err := p.shard(what, t, axis)
		out = append(out, dt)
		return err
	}
	if p.strategy == SPMD && p.devices > 1 {
		if err := add("device index", tensors.FromValue(xslices.Iota(int32(0), p.devices)), 0); err != nil {
			return nil, err
		}
	}
	for i, t := range batch {
		if err := add(fmt.Sprintf("batch input #%d", i), t, 0); err != nil {
			return nil, err
		}
	}
	for i, t := range trainable {
		if err := add(fmt.Sprintf("trainable #%d", i), t, Replicated); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PlaceFrozen splits the frozen weights as the Layout says and moves each
// shard to its device, dropping the host copies of the shards: device i then
// holds 1/N of a split weight. The result is what RunPlaced takes.
func (p *Program) PlaceFrozen(frozen []*tensors.Tensor) ([]*distributed.Tensor, error) {
	if len(frozen) != len(p.layout.FrozenSplit) {
		return nil, fmt.Errorf("multidevice: got %d frozen weights, layout has %d", len(frozen), len(p.layout.FrozenSplit))
	}
	return Place(p.backend, p.mesh, "frozen", frozen, p.layout.FrozenSplit)
}

// Place splits each tensor ts[i] on axis axes[i] over the mesh (Replicated:
// a copy per device) and moves shard d to device d, dropping the host
// copies of the shards; ts are left as they are. what names the tensors in
// errors.
func Place(b backends.Backend, mesh *distributed.DeviceMesh, what string, ts []*tensors.Tensor, axes []int) ([]*distributed.Tensor, error) {
	if len(axes) != len(ts) {
		return nil, fmt.Errorf("multidevice: %d axes for %d %s tensors", len(axes), len(ts), what)
	}
	out := make([]*distributed.Tensor, len(ts))
	for i, t := range ts {
		name := fmt.Sprintf("%s #%d", what, i)
		dt, err := shardOn(mesh, name, t, axes[i])
		if err != nil {
			return nil, err
		}
		for dev, s := range dt.Shards() {
			if err := s.MaterializeOnDevice(b, false, backends.DeviceNum(dev)); err != nil {
				_ = dt.FinalizeAll()
				return nil, fmt.Errorf("multidevice: moving shard %d of %s to device %d: %w", dev, name, dev, err)
			}
			s.FinalizeLocal()
		}
		out[i] = dt
	}
	return out, nil
}

// shardingSpecs are the specs of the placed inputs, for an AutoSharding
// program's parameters.
func shardingSpecs(dts []*distributed.Tensor) []*distributed.ShardingSpec {
	specs := make([]*distributed.ShardingSpec, len(dts))
	for i, dt := range dts {
		specs[i] = dt.ShardingSpec()
	}
	return specs
}
