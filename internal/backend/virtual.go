package backend

import (
	"fmt"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// CPUDeviceCountOption is the PJRT client create option of the XLA CPU
// plugin that sets its number of (virtual) devices.
const CPUDeviceCountOption = "cpu_device_count"

// VirtualCPU creates an XLA CPU backend with n virtual devices, each a
// partition of the host. The count is a client option, so backends with
// different counts can live in one process and nothing has to be set before
// the plugin is loaded.
func VirtualCPU(n int) (backends.Backend, error) {
	if n < 1 {
		return nil, fmt.Errorf("backend: %d virtual CPU devices requested, need at least 1", n)
	}
	plugin := FindPlugin("cpu")
	if plugin == "" {
		return nil, fmt.Errorf("backend: no XLA CPU plugin found (scripts/install-xla-cpu.sh installs it)")
	}
	b, err := xla.NewWithOptions(plugin, pjrt.NamedValuesMap{CPUDeviceCountOption: int64(n)})
	if err != nil {
		return nil, fmt.Errorf("backend: XLA CPU backend with %d devices (%s): %w", n, plugin, err)
	}
	if got := b.NumDevices(); got != n {
		b.Finalize()
		return nil, fmt.Errorf("backend: asked the XLA CPU plugin (%s) for %d devices, it created %d", plugin, n, got)
	}
	return b, nil
}
