package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestSelect(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("HOME", empty)
	t.Setenv("FLORA_XLA_DIR", empty)
	t.Setenv(CPUPluginEnv, "")
	t.Setenv(CUDAPluginEnv, "")
	t.Setenv(EnvVar, "")

	b, info, err := Select("go")
	if err != nil || info.Name != "go" {
		t.Fatalf("go: %v %+v", err, info)
	}
	out := MustExecOnce(b, func(x *Node) *Node { return MulScalar(x, 2) }, []float32{1, 2})
	if v := tensors.MustCopyFlatData[float32](out); v[1] != 4 {
		t.Errorf("go backend computed %v", v)
	}
	if _, info, err = Select(""); err != nil || info.Name != "go" || !strings.Contains(info.Reason, "no XLA plugin") {
		t.Errorf("auto without plugins: %v %+v", err, info)
	}
	t.Setenv(EnvVar, "go")
	if _, info, _ = Select(""); info.Reason != "" {
		t.Errorf("env go: %+v", info)
	}
	for _, spec := range []string{"xla:cpu", "xla:/nonexistent/plugin.so", "tpu"} {
		if _, _, err := Select(spec); err == nil {
			t.Errorf("%s accepted without a plugin", spec)
		}
	}
	if _, _, err := Select("xla:cpu"); err == nil || !strings.Contains(err.Error(), "scripts/install-xla-cpu.sh") {
		t.Errorf("xla:cpu error should say how to install: %v", err)
	}
	// A non-plugin file where the plugin should be gives an error, not a crash.
	bogus := filepath.Join(empty, "pjrt_c_api_cpu_plugin.so")
	os.WriteFile(bogus, []byte("not a shared library"), 0o644)
	if FindPlugin("cpu") != bogus {
		t.Errorf("FindPlugin did not find %s", bogus)
	}
	if _, _, err := Select("xla:cpu"); err == nil {
		t.Error("a bogus plugin file was accepted")
	}
	// auto does not silently fall back to pure Go past a broken plugin.
	t.Setenv(EnvVar, "")
	if _, _, err := Select(""); err == nil || !strings.Contains(err.Error(), "--backend go") {
		t.Errorf("auto with a broken plugin: %v", err)
	}
}

// TestPrepareCUDAEnv: the CUDA data dir comes from the pip wheels next to a
// jax-cuda13-pjrt plugin, go-xla's CUDA check is disabled, and values the
// user set are kept.
func TestPrepareCUDAEnv(t *testing.T) {
	sp := t.TempDir()
	plugin := filepath.Join(sp, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	ptxas := filepath.Join(sp, "nvidia", "cu13", "bin", "ptxas")
	for _, f := range []string{plugin, ptxas} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ flags, checks, wantFlags, wantChecks string }{
		{"", "", "--xla_gpu_cuda_data_dir=" + filepath.Join(sp, "nvidia", "cu13"), "0"},
		{"--xla_dump_to=/tmp/x", "1", "--xla_dump_to=/tmp/x --xla_gpu_cuda_data_dir=" + filepath.Join(sp, "nvidia", "cu13"), "1"},
		{"--xla_gpu_cuda_data_dir=/opt/cuda", "", "--xla_gpu_cuda_data_dir=/opt/cuda", "0"},
	}
	for _, tc := range tests {
		t.Setenv("XLA_FLAGS", tc.flags)
		t.Setenv("GOPJRT_CUDA_CHECKS", tc.checks)
		prepareCUDAEnv(plugin)
		if got := os.Getenv("XLA_FLAGS"); got != tc.wantFlags {
			t.Errorf("XLA_FLAGS=%q: got %q, want %q", tc.flags, got, tc.wantFlags)
		}
		if got := os.Getenv("GOPJRT_CUDA_CHECKS"); got != tc.wantChecks {
			t.Errorf("GOPJRT_CUDA_CHECKS=%q: got %q, want %q", tc.checks, got, tc.wantChecks)
		}
	}
}

// TestXLACPU runs a graph on the XLA CPU plugin when it is installed.
func TestXLACPU(t *testing.T) {
	if FindPlugin("cpu") == "" {
		if os.Getenv("FLORA_REQUIRE_XLA") != "" {
			t.Fatal("XLA CPU plugin required (FLORA_REQUIRE_XLA) but not installed")
		}
		t.Skip("XLA CPU plugin not installed (scripts/install-xla-cpu.sh)")
	}
	b, info, err := Select("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(info, info.Description)
	out := MustExecOnce(b, func(x *Node) *Node { return MatMul(x, x) }, [][]float32{{1, 2}, {3, 4}})
	want := []float32{7, 10, 15, 22}
	got := tensors.MustCopyFlatData[float32](out)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("xla:cpu matmul = %v, want %v", got, want)
		}
	}
}

// TestCUDAWithoutGPU: on a machine without an NVIDIA GPU, a CUDA backend —
// by name or by plugin path — fails with one line saying so, before the
// plugin is loaded (loading it would fail in the plugin's client creation
// after several lines of C++ logging).
func TestCUDAWithoutGPU(t *testing.T) {
	if HasGPU() {
		t.Skip("this machine has a GPU")
	}
	plugin := filepath.Join(t.TempDir(), "pjrt_c_api_cuda_plugin.so")
	if err := os.WriteFile(plugin, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"xla:cuda", "xla:" + plugin} {
		_, _, err := Select(spec)
		if err == nil || !strings.Contains(err.Error(), "no CUDA device found") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line saying no CUDA device was found", spec, err)
		}
	}
}
