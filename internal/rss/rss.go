// Package rss reads the process's resident memory (Linux /proc; 0
// elsewhere), for benchmarks and memory reports.
package rss

import (
	"fmt"
	"os"
	"strings"
)

// ResetPeak restarts the peak resident memory counter (VmHWM) from the
// current resident memory (Linux 4.0+).
func ResetPeak() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// Peak is the process's peak resident memory in bytes (VmHWM).
func Peak() int64 { return statusBytes("VmHWM:") }

// Current is the process's resident memory in bytes (VmRSS).
func Current() int64 { return statusBytes("VmRSS:") }

// statusBytes reads a kB field of /proc/self/status (0 if absent).
func statusBytes(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
