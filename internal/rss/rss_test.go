package rss

import (
	"runtime"
	"testing"
)

// TestResidentMemory: on Linux the current resident memory is positive and
// at most the peak, and touching 64 MiB raises both by about that much.
func TestResidentMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before := Current()
	if before <= 0 || before > Peak() {
		t.Fatalf("current %d, peak %d", before, Peak())
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after := Current()
	if after-before < 48<<20 || Peak() < after {
		t.Errorf("after touching 64 MiB: current %d → %d, peak %d", before, after, Peak())
	}
	runtime.KeepAlive(buf)
}
