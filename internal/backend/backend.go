// Package backend selects the GoMLX backend a Flora command runs on:
// "auto", "go" (pure Go, always available), "xla:cpu", "xla:cuda", or
// "xla:/abs/path/plugin.so". The XLA backend needs a PJRT plugin on disk;
// GoMLX's network auto-install is never attempted (there is no network on
// most training boxes): missing plugins produce a message saying how to
// install them.
package backend

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/backends/xla"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	_ "github.com/flora-ml/flora/internal/gomlxfix" // GoMLX v0.26.0 gap fixes.
)

// EnvVar selects the backend when no --backend flag is given.
const EnvVar = "FLORA_BACKEND"

// Plugin path overrides.
const (
	CPUPluginEnv  = "FLORA_XLA_CPU_PLUGIN"
	CUDAPluginEnv = "FLORA_XLA_CUDA_PLUGIN"
)

// GoConfig is the pure-Go backend configuration: parallelism=-1 avoids the
// worker-pool deadlock GoMLX v0.26.0's simplego hits on machines with few
// cores, and was the fastest setting measured on 2 cores.
const GoConfig = "parallelism=-1"

func init() {
	// Never download plugins: GoMLX would otherwise try GitHub/PyPI and fail
	// offline instead of falling back.
	xla.EnableAutoInstall(false)
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
}

// Info describes the chosen backend.
type Info struct {
	// Name is go, xla:cpu, xla:cuda or xla:<path>.
	Name string
	// Plugin is the PJRT plugin file for XLA backends.
	Plugin string
	// Reason says why auto picked it.
	Reason string
	// Description is the backend's own description.
	Description string
}

// String is the one line printed at the start of a run.
func (i Info) String() string {
	s := "backend: " + i.Name
	if i.Plugin != "" {
		s += " (" + i.Plugin + ")"
	}
	if i.Reason != "" {
		s += " — " + i.Reason
	}
	return s
}

// pluginDirs are where Flora looks for installed PJRT plugins, in order.
func pluginDirs() []string {
	var dirs []string
	if d := os.Getenv("FLORA_XLA_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".local", "lib", "go-xla"))
	}
	return append(dirs, "/usr/local/lib/go-xla")
}

// FindPlugin returns the plugin file for "cpu" or "cuda", or "".
func FindPlugin(kind string) string {
	env := CPUPluginEnv
	if kind == "cuda" {
		env = CUDAPluginEnv
	}
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, d := range pluginDirs() {
		cand := filepath.Join(d, "pjrt_c_api_"+kind+"_plugin.so")
		if kind == "cuda" {
			cand = filepath.Join(d, "nvidia", "pjrt_c_api_cuda_plugin.so")
		}
		if fileExists(cand) {
			return cand
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// HasGPU reports whether an NVIDIA GPU device node is present.
func HasGPU() bool {
	m, _ := filepath.Glob("/dev/nvidia[0-9]*")
	return len(m) > 0
}

// Select creates the backend for a spec ("" reads FLORA_BACKEND, default auto).
func Select(spec string) (backends.Backend, Info, error) {
	if spec == "" {
		spec = os.Getenv(EnvVar)
	}
	if spec == "" {
		spec = "auto"
	}
	switch {
	case spec == "go":
		return newGo("")
	case spec == "auto":
		if HasGPU() {
			if p := FindPlugin("cuda"); p != "" {
				return autoXLA("xla:cuda", p, "auto: GPU and CUDA plugin found", "use --backend go or xla:cpu to run without it")
			}
		}
		if p := FindPlugin("cpu"); p != "" {
			return autoXLA("xla:cpu", p, "auto: XLA CPU plugin found", "reinstall with scripts/install-xla-cpu.sh --force, or use --backend go")
		}
		return newGo("auto: no XLA plugin found (scripts/install-xla-cpu.sh installs the CPU one)")
	case spec == "xla:cpu":
		p := FindPlugin("cpu")
		if p == "" {
			return nil, Info{}, fmt.Errorf("backend xla:cpu: no XLA CPU plugin in %s (or $%s); run scripts/install-xla-cpu.sh, or use --backend go",
				strings.Join(pluginDirs(), ", "), CPUPluginEnv)
		}
		return newXLA(spec, p)
	case spec == "xla:cuda":
		if !HasGPU() {
			return nil, Info{}, errNoCUDADevice(spec)
		}
		p := FindPlugin("cuda")
		if p == "" {
			return nil, Info{}, fmt.Errorf("backend xla:cuda: no CUDA plugin found (set $%s, or source scripts/device-cuda-env.sh on a machine with jax-cuda13-pjrt)", CUDAPluginEnv)
		}
		return newXLA(spec, p)
	case strings.HasPrefix(spec, "xla:/"):
		p := strings.TrimPrefix(spec, "xla:")
		if !fileExists(p) {
			return nil, Info{}, fmt.Errorf("backend %s: plugin file not found", spec)
		}
		return newXLA(spec, p)
	}
	return nil, Info{}, fmt.Errorf("unknown backend %q (auto, go, xla:cpu, xla:cuda or xla:/abs/path/plugin.so)", spec)
}

// autoXLA loads the plugin auto selection found, giving reason as
// Info.Reason. A plugin that is present but fails to load is an error (ending
// in hint), not a silent fall back to a backend 10-100x slower.
func autoXLA(spec, plugin, reason, hint string) (backends.Backend, Info, error) {
	b, info, err := newXLA(spec, plugin)
	if err != nil {
		return nil, Info{}, fmt.Errorf("auto: %w (%s)", err, hint)
	}
	info.Reason = reason
	return b, info, nil
}

func newGo(reason string) (backends.Backend, Info, error) {
	b, err := newSimpleGoQuiet()
	if err != nil {
		return nil, Info{}, fmt.Errorf("pure-Go backend: %w", err)
	}
	return b, Info{Name: "go", Reason: reason, Description: b.Description()}, nil
}

func newXLA(name, plugin string) (backends.Backend, Info, error) {
	abs, err := filepath.Abs(plugin)
	if err != nil {
		return nil, Info{}, err
	}
	if strings.Contains(filepath.Base(abs), "cuda") {
		// Without a device the plugin's client creation fails after
		// several lines of C++ logging: say it in one line instead.
		if !HasGPU() {
			return nil, Info{}, errNoCUDADevice(name)
		}
		prepareCUDAEnv(abs)
	}
	// An absolute path skips go-xla's plugin search and auto-install.
	b, err := xla.New(abs)
	if err != nil {
		return nil, Info{}, fmt.Errorf("backend %s (%s): %w", name, abs, err)
	}
	return b, Info{Name: name, Plugin: abs, Description: b.Description()}, nil
}

// errNoCUDADevice is the one-line error for a CUDA backend on a machine
// without an NVIDIA GPU.
func errNoCUDADevice(spec string) error {
	return fmt.Errorf("backend %s: no CUDA device found (no NVIDIA GPU at /dev/nvidia*); use --backend xla:cpu or go on this machine", spec)
}

// prepareCUDAEnv sets what the CUDA plugin needs before it is loaded:
// go-xla v0.1.4's CUDA check would point XLA_FLAGS at a hard-coded
// /home/janpf/... directory, so it is disabled (GOPJRT_CUDA_CHECKS=0), and
// XLA's GPU compiler is told where ptxas and libdevice are: the nvidia/cu13
// directory of the pip wheels next to the plugin's package (the layout of
// jax-cuda13-pjrt: site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so).
// Values already set by the user (or by scripts/device-cuda-env.sh) win.
func prepareCUDAEnv(plugin string) {
	if os.Getenv("GOPJRT_CUDA_CHECKS") == "" {
		_ = os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
	flags := os.Getenv("XLA_FLAGS")
	if strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
		return
	}
	sitePackages := filepath.Dir(filepath.Dir(filepath.Dir(plugin)))
	for _, d := range []string{"cu13", "cuda_nvcc"} {
		dir := filepath.Join(sitePackages, "nvidia", d)
		if fileExists(filepath.Join(dir, "bin", "ptxas")) {
			_ = os.Setenv("XLA_FLAGS", strings.TrimSpace(flags+" --xla_gpu_cuda_data_dir="+dir))
			return
		}
	}
}

// newSimpleGoQuiet creates the pure-Go backend without the line simplego
// v0.26.0 prints on stdout when given a parallelism setting ("SimpleGo
// backend: parallelism set to -1"): stdout carries command results (file
// paths, tables) that scripts read. Backends are created at startup,
// before any other goroutine writes to stdout.
func newSimpleGoQuiet() (backends.Backend, error) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return simplego.New(GoConfig)
	}
	defer devNull.Close()
	stdout := os.Stdout
	os.Stdout = devNull
	defer func() { os.Stdout = stdout }()
	return simplego.New(GoConfig)
}

// GPUMemory returns the total memory of GPU 0 in bytes as nvidia-smi reports
// it, or 0 when it cannot be read.
func GPUMemory() int64 {
	out, err := exec.Command("nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return 0
	}
	line := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	mib, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0
	}
	return mib << 20
}

// GPUMemoryUsed returns the memory in use on GPU 0 in bytes as nvidia-smi
// reports it, or 0 when it cannot be read.
func GPUMemoryUsed() int64 {
	out, err := exec.Command("nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return 0
	}
	mib, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), 10, 64)
	if err != nil {
		return 0
	}
	return mib << 20
}

// ComputeDType resolves a compute dtype setting: "auto" is bf16 on GPUs
// (xla:cuda) and f32 elsewhere (CPUs have no fast bf16 arithmetic); "bf16"
// and "f32" are themselves.
func (i Info) ComputeDType(setting string) (dtypes.DType, error) {
	switch setting {
	case "f32":
		return dtypes.Float32, nil
	case "bf16":
		return dtypes.BFloat16, nil
	case "auto":
		if i.Name == "xla:cuda" {
			return dtypes.BFloat16, nil
		}
		return dtypes.Float32, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("dtype must be auto, bf16 or f32, got %q", setting)
}
