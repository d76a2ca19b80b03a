package weights

import (
	"errors"
	"runtime/debug"
)

// ErrFileChanged is the cause of errors from reading tensor data whose
// memory-mapped file was truncated or rewritten in place after it was
// opened (by a download, a copy or another program writing it): reading the
// pages that are gone raises SIGBUS, which Flora turns into this error
// instead of crashing.
var ErrFileChanged = errors.New("the file changed while it was being read (truncated or overwritten; is another program writing it?); run again once the file is complete")

// catchFault runs fn on the calling goroutine with memory faults (SIGBUS or
// SIGSEGV at a mapped address) turned into ErrFileChanged; other panics pass
// through. The goroutine's previous debug.SetPanicOnFault setting is
// restored. The setting is per goroutine, so every goroutine that reads a
// mapping runs its reads through catchFault.
func catchFault(fn func()) (err error) {
	prev := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(prev)
		if r := recover(); r != nil {
			// Faults at an address carry it (runtime.Error with Addr);
			// nil dereferences and other bugs do not and still panic.
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				err = ErrFileChanged
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}
