//go:build !linux || !cgo

package memtrim

// Trim does nothing where glibc's malloc_trim is not available.
func Trim() {}
