// Package memtrim gives memory the process no longer uses back to the
// system: Go's heap (debug.FreeOSMemory) and the C heap the XLA runtime
// allocates from.
package memtrim

import "runtime/debug"

// Release returns freed Go and C heap memory to the system. It takes a
// garbage collection: call it after phases that leave garbage (compiling
// programs, building a model), not per step.
func Release() {
	debug.FreeOSMemory()
	Trim()
}
