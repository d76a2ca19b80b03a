//go:build linux

package main

import (
	"os"
	"strings"
	"syscall"
)

// mallocHugePagesTunable asks glibc's malloc to request transparent huge
// pages (madvise MADV_HUGEPAGE) for the memory it maps. The XLA CPU runtime
// allocates each program run's temporary buffer (285 MiB for a LoRA step of
// the small bench config at 1,152 tokens) with malloc, which maps it fresh and
// unmaps it after the run: every 4 KiB page faults and is zeroed again on each
// step, 11–13% of a training step's CPU time (PERF.md §10). With huge pages
// that is 512× fewer faults.
const mallocHugePagesTunable = "glibc.malloc.hugetlb=1"

// noReexecEnv turns the re-execution below off.
const noReexecEnv = "FLORA_NO_REEXEC"

// reexecWithMallocTunables re-executes the flora binary once with
// mallocHugePagesTunable added to GLIBC_TUNABLES (glibc reads it only at
// process start). It returns without doing anything when the tunable is
// already set, when FLORA_NO_REEXEC is set, or when the binary cannot be
// re-executed; other C libraries ignore the variable.
func reexecWithMallocTunables() {
	env, ok := mallocTunablesEnv(os.Environ())
	if !ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env) // returns only on failure: run as is
}

// mallocTunablesEnv returns environ with mallocHugePagesTunable appended to
// GLIBC_TUNABLES and FLORA_NO_REEXEC=1 (so a C library that drops the
// variable cannot cause a loop), or false when there is nothing to do.
func mallocTunablesEnv(environ []string) ([]string, bool) {
	var tunables string
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		switch {
		case strings.HasPrefix(kv, noReexecEnv+"="):
			return nil, false
		case strings.HasPrefix(kv, "GLIBC_TUNABLES="):
			tunables = strings.TrimPrefix(kv, "GLIBC_TUNABLES=")
		default:
			env = append(env, kv)
		}
	}
	if strings.Contains(tunables, "glibc.malloc.hugetlb") {
		return nil, false
	}
	if tunables != "" {
		tunables += ":"
	}
	return append(env, "GLIBC_TUNABLES="+tunables+mallocHugePagesTunable, noReexecEnv+"=1"), true
}
