//go:build linux

package main

import (
	"slices"
	"testing"
)

func TestMallocTunablesEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string // nil: no re-execution
	}{
		{"adds the tunable", []string{"HOME=/h"}, []string{"HOME=/h", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "FLORA_NO_REEXEC=1"}},
		{"keeps other tunables", []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "A=b"},
			[]string{"A=b", "GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", "FLORA_NO_REEXEC=1"}},
		{"user's own hugetlb choice wins", []string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=0"}, nil},
		{"turned off", []string{"FLORA_NO_REEXEC=1", "HOME=/h"}, nil},
		{"turned off by any value", []string{"HOME=/h", "FLORA_NO_REEXEC="}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mallocTunablesEnv(tc.environ)
			if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
				t.Errorf("mallocTunablesEnv(%q) = %q, %v; want %q", tc.environ, got, ok, tc.want)
			}
		})
	}
}
