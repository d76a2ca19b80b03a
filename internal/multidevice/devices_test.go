package multidevice

import (
	"os"
	"testing"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/testutil"
)

// TestOneDeviceBackendRefused: asking the pure-Go backend (one device) for
// two gives the error a user sees.
func TestOneDeviceBackendRefused(t *testing.T) {
	b, _, err := backend.Select("go")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewMesh(b, 2)
	if err == nil {
		t.Fatal("NewMesh of 2 devices on the pure-Go backend: no error")
	}
	testutil.CheckContains(t, "error", err.Error(), "2 devices requested but backend", "has 1;", "xla:cpu with virtual devices")
}

// TestVirtualCPU: the XLA CPU plugin makes as many devices as asked, per
// client, in one process.
func TestVirtualCPU(t *testing.T) {
	if os.Getenv(testutil.BackendEnv) != "xla:cpu" {
		t.Skipf("needs the XLA CPU plugin (%s=xla:cpu)", testutil.BackendEnv)
	}
	for _, n := range []int{2, 3} {
		b, err := backend.VirtualCPU(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.NumDevices(); got != n {
			t.Errorf("VirtualCPU(%d) has %d devices", n, got)
		}
		b.Finalize()
	}
}
