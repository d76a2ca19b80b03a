package multidevice

import (
	"fmt"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
	"github.com/gomlx/gomlx/pkg/core/distributed"

	"github.com/flora-ml/flora/internal/backend"
)

// AxisName is the name of the mesh axis the batch is split on.
const AxisName = "data"

// CPUDeviceCountOption is the PJRT client create option of the XLA CPU
// plugin that sets its number of (virtual) devices.
const CPUDeviceCountOption = "cpu_device_count"

// VirtualCPU creates an XLA CPU backend with n virtual devices, each a
// partition of the host. The count is a client option, so backends with
// different counts can live in one process and nothing has to be set before
// the plugin is loaded.
func VirtualCPU(n int) (backends.Backend, error) {
	if n < 1 {
		return nil, fmt.Errorf("multidevice: %d virtual CPU devices requested, need at least 1", n)
	}
	plugin := backend.FindPlugin("cpu")
	if plugin == "" {
		return nil, fmt.Errorf("multidevice: no XLA CPU plugin found (scripts/install-xla-cpu.sh installs it)")
	}
	b, err := xla.NewWithOptions(plugin, pjrt.NamedValuesMap{CPUDeviceCountOption: int64(n)})
	if err != nil {
		return nil, fmt.Errorf("multidevice: XLA CPU backend with %d devices (%s): %w", n, plugin, err)
	}
	if got := b.NumDevices(); got != n {
		b.Finalize()
		return nil, fmt.Errorf("multidevice: asked the XLA CPU plugin (%s) for %d devices, it created %d", plugin, n, got)
	}
	return b, nil
}

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
