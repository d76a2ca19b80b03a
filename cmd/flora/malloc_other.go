//go:build !linux

package main

// reexecWithMallocTunables is a no-op outside Linux (see malloc_linux.go).
func reexecWithMallocTunables() {}
