package multidevice

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Program is a compiled loss-and-gradients step on one or several devices.
// It compiles on first Run (and again for new input shapes).
type Program struct {
	backend  backends.Backend
	exec     *graph.Exec
	layout   Layout
	devices  int
	strategy Strategy
	mesh     *distributed.DeviceMesh
}

// Result is what one Run returns: values averaged over the global batch.
type Result struct {
	// Loss is the scalar loss of the global batch.
	Loss float32
	// Grads are the gradients of the loss with respect to the trainable
	// parameters, in Layout order.
	Grads []*tensors.Tensor
}

// NewProgram prepares the loss-and-gradients program of loss for devices
// devices of b, partitioned by strategy (ignored for one device, which runs
// the plain single-device program).
func NewProgram(b backends.Backend, devices int, strategy Strategy, layout Layout, loss LossFunc) (*Program, error) {
	mesh, err := NewMesh(b, devices)
	if err != nil {
		return nil, err
	}
	return NewProgramOn(b, mesh, strategy, layout, loss)
}

// NewProgramOn is NewProgram on a given mesh (from NewMesh). Programs that
// share frozen weights placed by PlaceFrozen must share the mesh: a graph
// only accepts inputs sharded on the mesh it was configured with.
func NewProgramOn(b backends.Backend, mesh *distributed.DeviceMesh, strategy Strategy, layout Layout, loss LossFunc) (*Program, error) {
	if err := layout.validate(); err != nil {
		return nil, fmt.Errorf("multidevice: %w", err)
	}
	devices := mesh.NumDevices()
	var err error
	p := &Program{backend: b, layout: layout, devices: devices, strategy: strategy, mesh: mesh}
	if devices == 1 {
		if p.exec, err = graph.NewExec(b, lossAndGradients(layout, loss)); err != nil {
			return nil, fmt.Errorf("multidevice: one-device program: %w", err)
		}
		return p, nil
	}
	switch strategy {
	case AutoSharding:
		p.exec, err = graph.NewExec(b, lossAndGradients(layout, loss))
		if err == nil {
			// Replicated outputs: Shardy all-reduces the partial
			// gradients of the devices' batch slices.
			p.exec.AutoSharding(mesh).WithOutputShardingSpecs(distributed.NewReplicatedShardingSpec(mesh))
		}
	case SPMD:
		p.exec, err = graph.NewExec(b, spmdLossAndGradients(layout, devices, loss))
		if err == nil {
			p.exec.SPMD(mesh)
		}
	default:
		err = fmt.Errorf("unknown strategy %v", strategy)
	}
	if err != nil {
		return nil, fmt.Errorf("multidevice: %s program on %d devices: %w", strategy, devices, err)
	}
	return p, nil
}

// Devices is the number of devices the program runs on.
func (p *Program) Devices() int { return p.devices }

// Run computes the loss and gradients for the global batch: each batch
// input is split on axis 0 over the devices, the trainable parameters are
// copied to every device, and each frozen weight is split or copied as the
// Layout says. The inputs are host tensors in Layout order; the frozen ones
// are placed anew on every call (see PlaceFrozen to place them once).
func (p *Program) Run(batch, trainable, frozen []*tensors.Tensor) (*Result, error) {
	if len(frozen) != len(p.layout.FrozenSplit) {
		return nil, fmt.Errorf("multidevice: got %d frozen weights, layout has %d", len(frozen), len(p.layout.FrozenSplit))
	}
	placed := make([]*distributed.Tensor, len(frozen))
	for i, t := range frozen {
		dt, err := p.shard(fmt.Sprintf("frozen #%d", i), t, p.layout.FrozenSplit[i])
		if err != nil {
			return nil, err
		}
		placed[i] = dt
	}
	return p.RunPlaced(batch, trainable, placed)
}

// RunPlaced is Run with the frozen weights already split into per-device
// shards (by PlaceFrozen), so they stay on the devices between steps.
func (p *Program) RunPlaced(batch, trainable []*tensors.Tensor, frozen []*distributed.Tensor) (*Result, error) {
	if len(batch) != p.layout.Batch || len(trainable) != p.layout.Trainable || len(frozen) != len(p.layout.FrozenSplit) {
		return nil, fmt.Errorf("multidevice: got %d batch, %d trainable, %d frozen inputs; layout wants %d, %d, %d",
			len(batch), len(trainable), len(frozen), p.layout.Batch, p.layout.Trainable, len(p.layout.FrozenSplit))
	}
	dts, err := p.place(batch, trainable)
	if err != nil {
		return nil, err
	}
	dts = append(dts, frozen...)
	if p.strategy == AutoSharding && p.devices > 1 {
		// Read when a graph is built for new shapes: the logical shapes
		// of the parameters follow from them.
		p.exec.WithInputShardingSpecs(shardingSpecs(dts)...)
	}
	args := make([]any, len(dts))
	for i, dt := range dts {
		args[i] = dt
	}
	outs, err := p.exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("multidevice: %s step on %d devices: %w", p.strategy, p.devices, err)
	}
	return p.collect(outs)
}

// collect keeps device 0's copy of the (replicated) outputs and frees the
// others. Outputs come device-major: all of device 0's, then device 1's...
func (p *Program) collect(outs []*tensors.Tensor) (*Result, error) {
	per := 1 + p.layout.Trainable
	if len(outs) != per*p.devices {
		return nil, fmt.Errorf("multidevice: %d outputs from %d devices, want %d each", len(outs), p.devices, per)
	}
	for _, t := range outs[per:] {
		t.FinalizeAll()
	}
	return &Result{Loss: tensors.ToScalar[float32](outs[0]), Grads: outs[1:per]}, nil
}
