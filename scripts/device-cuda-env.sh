# shellcheck shell=bash
# Prepares the environment for running a Flora binary on XLA CUDA, on a GPU
# machine whose Python has the `jax-cuda13-pjrt` wheel (the PJRT CUDA plugin)
# and the `nvidia-*` CUDA 13 wheels (cuBLAS, cuDNN, NCCL, ptxas, libdevice...),
# and no Go: the binary is built elsewhere. Nothing is downloaded.
#
# Source it (it exports variables into the calling shell):
#
#   source scripts/device-cuda-env.sh && ./flora ...
#
# Inputs (all optional):
#   FLORA_PYTHON              python interpreter to ask for its site-packages (default: python3)
#   FLORA_CUDA_SITE_PACKAGES  site-packages directory holding jax_plugins/ and nvidia/ (skips the search)
#
# Exports:
#   FLORA_XLA_CUDA_PLUGIN     absolute path of jax_plugins/xla_cuda13/xla_cuda_plugin.so,
#                             used by Flora's `auto` and `xla:cuda` backends
#   GOMLX_BACKEND             xla:<that path>, for plain GoMLX programs
#   GOMLX_NO_AUTO_INSTALL=1   never let go-xla download plugins
#   GOPJRT_CUDA_CHECKS=0      disable go-xla v0.1.4's CUDA directory check, which
#                             would set XLA_FLAGS to a hard-coded /home/janpf/... path
#   XLA_FLAGS                 + --xla_gpu_cuda_data_dir=<site-packages>/nvidia/cu13
#                             (ptxas and libdevice for XLA's GPU compiler)
#   LD_LIBRARY_PATH           + the nvidia/*/lib directories (the plugin dlopens
#                             cuBLAS, cuDNN, NCCL...; this must be set before the
#                             process starts)
#
# It prints what it found on stderr and returns non-zero (without exporting
# anything) when the plugin or the CUDA directories are missing.

_flora_cuda_env() {
  local log_prefix="device-cuda-env:"
  local python="${FLORA_PYTHON:-python3}"
  local sp="${FLORA_CUDA_SITE_PACKAGES:-}"
  local plugin_rel="jax_plugins/xla_cuda13/xla_cuda_plugin.so"

  if [[ -z "$sp" ]]; then
    if ! command -v "$python" >/dev/null 2>&1; then
      echo "$log_prefix no '$python' found; set FLORA_PYTHON or FLORA_CUDA_SITE_PACKAGES" >&2
      return 1
    fi
    # Ask Python where the plugin package is; fall back to scanning its site directories.
    sp="$("$python" - "$plugin_rel" 2>/dev/null <<'PY'
import importlib.util, os, site, sys
rel = sys.argv[1]
candidates = []
try:
    spec = importlib.util.find_spec("jax_plugins.xla_cuda13")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates.append(os.path.dirname(os.path.dirname(loc)))
except Exception:
    pass
try:
    candidates += site.getsitepackages()
except Exception:
    pass
try:
    candidates.append(site.getusersitepackages())
except Exception:
    pass
candidates += [p for p in sys.path if p.endswith("site-packages") or p.endswith("dist-packages")]
for c in candidates:
    if os.path.isfile(os.path.join(c, rel)):
        print(os.path.realpath(c))
        break
PY
)"
    if [[ -z "$sp" ]]; then
      echo "$log_prefix $python has no $plugin_rel (pip install jax-cuda13-pjrt, or set FLORA_CUDA_SITE_PACKAGES)" >&2
      return 1
    fi
  fi
  sp="$(cd "$sp" 2>/dev/null && pwd -P)" || { echo "$log_prefix site-packages directory not found" >&2; return 1; }

  local plugin="$sp/$plugin_rel"
  local cuda_dir="$sp/nvidia/cu13"
  local missing=0 f
  for f in "$plugin" "$cuda_dir/bin/ptxas"; do
    if [[ ! -f "$f" ]]; then
      echo "$log_prefix missing $f" >&2
      missing=1
    fi
  done
  if [[ ! -d "$cuda_dir/nvvm/libdevice" ]]; then
    echo "$log_prefix missing $cuda_dir/nvvm/libdevice (from the nvidia-cuda-nvcc wheel)" >&2
    missing=1
  fi
  if [[ $missing == 1 ]]; then
    echo "$log_prefix incomplete CUDA 13 setup in $sp: nothing exported" >&2
    return 1
  fi

  # Library directories of the nvidia-* wheels (cu13/lib, cudnn/lib, nccl/lib, nvshmem/lib, ...).
  local lib_dirs=() d
  for d in "$sp"/nvidia/*/lib; do
    [[ -d "$d" ]] && lib_dirs+=("$d")
  done
  local new_ld="" current=":${LD_LIBRARY_PATH:-}:"
  for d in "${lib_dirs[@]}"; do
    [[ "$current" == *":$d:"* ]] || new_ld="${new_ld:+$new_ld:}$d"
  done

  # GPU and driver (CUDA 13 needs an NVIDIA driver >= 580).
  if ! compgen -G "/dev/nvidia*" >/dev/null; then
    echo "$log_prefix WARNING: no /dev/nvidia* device: Flora's auto backend will not pick CUDA" >&2
  fi
  if command -v nvidia-smi >/dev/null 2>&1; then
    local gpu_line driver_major
    gpu_line="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
    echo "$log_prefix GPU: ${gpu_line:-unknown (nvidia-smi failed)}" >&2
    driver_major="$(sed -n 's/^[^,]*, *\([0-9]*\)\..*/\1/p' <<<"$gpu_line")"
    if [[ -n "$driver_major" && "$driver_major" -lt 580 ]]; then
      echo "$log_prefix WARNING: driver $driver_major < 580 may be too old for CUDA 13" >&2
    fi
  fi
  local version
  version="$("$python" -c 'import importlib.metadata as m; print(m.version("jax-cuda13-pjrt"))' 2>/dev/null || true)"

  export FLORA_XLA_CUDA_PLUGIN="$plugin"
  export GOMLX_BACKEND="xla:$plugin"
  export GOMLX_NO_AUTO_INSTALL=1
  export GOPJRT_CUDA_CHECKS=0
  if [[ "${XLA_FLAGS:-}" == *--xla_gpu_cuda_data_dir* ]]; then
    echo "$log_prefix keeping the --xla_gpu_cuda_data_dir already in XLA_FLAGS=$XLA_FLAGS" >&2
  else
    export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_gpu_cuda_data_dir=$cuda_dir"
  fi
  if [[ -n "$new_ld" ]]; then
    export LD_LIBRARY_PATH="$new_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi

  echo "$log_prefix site-packages:  $sp" >&2
  echo "$log_prefix CUDA plugin:    $plugin${version:+ (jax-cuda13-pjrt $version)}" >&2
  echo "$log_prefix CUDA data dir:  $cuda_dir" >&2
  echo "$log_prefix library dirs:   ${lib_dirs[*]}" >&2
  echo "$log_prefix XLA_FLAGS=$XLA_FLAGS" >&2
  echo "$log_prefix ready: FLORA_BACKEND=auto (or xla:cuda) now selects XLA CUDA" >&2
  return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "device-cuda-env.sh must be sourced: source ${BASH_SOURCE[0]}" >&2
  exit 2
fi
_flora_cuda_env
_flora_cuda_env_status=$?
unset -f _flora_cuda_env
# Return the function's status to the caller (`source ... && ./flora ...`).
eval "unset _flora_cuda_env_status; return $_flora_cuda_env_status"
