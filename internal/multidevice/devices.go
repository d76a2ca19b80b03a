package multidevice

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
)

// AxisName is the name of the mesh axis the batch is split on.
const AxisName = "data"

// NewMesh returns the 1-D mesh of n devices on axis "data", or an error
// saying why the backend cannot run on n devices (the pure-Go backend has
// one).
func NewMesh(b backends.Backend, n int) (*distributed.DeviceMesh, error) {
	if have := b.NumDevices(); n > have {
		return nil, fmt.Errorf("multidevice: %d devices requested but backend %s has %d; "+
			"data-parallel training needs an XLA backend with several devices "+
			"(xla:cuda with one GPU per device, or xla:cpu with virtual devices)", n, b.Name(), have)
	}
	mesh, err := distributed.NewDeviceMesh([]int{n}, []string{AxisName})
	if err != nil {
		return nil, fmt.Errorf("multidevice: mesh of %d devices: %w", n, err)
	}
	return mesh, nil
}
