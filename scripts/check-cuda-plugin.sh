#!/usr/bin/env bash
# Checks the XLA CUDA setup that scripts/device-cuda-env.sh prepares, with or
# without a GPU. Run it first on a GPU machine (before any benchmark), or on
# any Linux x86-64 machine against a scratch folder of the real wheels:
#
#   python3 -m pip install --target /tmp/cudasite --python-version 3.12 \
#     --implementation cp --only-binary=:all: --platform manylinux_2_27_x86_64 \
#     --platform manylinux_2_25_x86_64 ... jax-cuda13-pjrt jax-cuda13-plugin[with-cuda]
#   FLORA_CUDA_SITE_PACKAGES=/tmp/cudasite scripts/check-cuda-plugin.sh ./flora
#
# It proves, in order:
#  1. device-cuda-env.sh finds the plugin, ptxas, libdevice and the library
#     folders, and exports the environment;
#  2. every shared library the plugin and the nvidia-* wheels link against
#     resolves (ldd: no "not found"), except the driver's libcuda.so.1 on a
#     machine without an NVIDIA driver;
#  3. the plugin exports GetPjrtApi and dlopens with every symbol bound
#     (python ctypes, RTLD_NOW);
#  4. `flora bench --backend xla:cuda` either runs (GPU) or, without a GPU,
#     fails with exit 1 and exactly one line on stderr saying no CUDA device
#     was found — never a crash.
#
# Usage: scripts/check-cuda-plugin.sh [FLORA_BINARY]   (default: ./flora)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
flora="${1:-./flora}"
fail=0
say() { echo "check-cuda-plugin: $*"; }
bad() { say "FAIL: $*"; fail=1; }

# 1. Environment.
# shellcheck source=device-cuda-env.sh
if ! source "$here/device-cuda-env.sh"; then
  say "FAIL: device-cuda-env.sh found no complete CUDA 13 setup"
  exit 1
fi
plugin="$FLORA_XLA_CUDA_PLUGIN"
gpu=0
compgen -G "/dev/nvidia[0-9]*" >/dev/null && gpu=1
say "plugin $plugin; GPU device present: $gpu"

# 2. Every library resolves.
sp="$(dirname "$(dirname "$(dirname "$plugin")")")"
# The plugin and the nvidia-* wheels' lib*.so libraries. NVSHMEM's optional
# bootstrap/transport modules (nvshmem_bootstrap_mpi.so, ..._ucx.so) are left
# out: NVSHMEM dlopens them only when MPI/UCX/InfiniBand is configured.
mapfile -t libs < <(find "$plugin" "$sp"/nvidia/*/lib -maxdepth 1 -name 'lib*.so*' -type f 2>/dev/null | sort; echo "$plugin")
unresolved=0
for lib in "${libs[@]}"; do
  while read -r line; do
    name="${line%% *}"
    if [[ "$name" == libcuda.so* && $gpu == 0 ]]; then
      continue # the driver's library: present only where a driver is installed
    fi
    bad "$(basename "$lib") needs $name: not found"
    unresolved=$((unresolved + 1))
  done < <(ldd "$lib" 2>/dev/null | grep 'not found' | sed 's/^[[:space:]]*//')
done
say "ldd: ${#libs[@]} libraries checked, $unresolved unresolved dependencies"
[[ ${#libs[@]} -gt 1 ]] || bad "no nvidia-* libraries found under $sp/nvidia"

# 3. GetPjrtApi, and a dlopen with every symbol bound.
if nm -D "$plugin" 2>/dev/null | grep -Eq ' T GetPjrtApi(@|$)'; then
  say "GetPjrtApi exported"
else
  bad "$plugin does not export GetPjrtApi"
fi
if out=$(python3 - "$plugin" 2>&1 <<'PY'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)
api = lib.GetPjrtApi
api.restype = ctypes.c_void_p
print("GetPjrtApi() =", hex(api() or 0))
PY
); then
  say "dlopen(RTLD_NOW) ok: $out"
else
  bad "dlopen failed: $out"
fi

# 4. Flora on that backend.
if [[ ! -x "$flora" ]]; then
  bad "no flora binary at $flora (build it: go build -o flora ./cmd/flora)"
else
  errf="$(mktemp)"
  "$flora" bench --backend xla:cuda --variant small --mode forward --steps 1 >/dev/null 2>"$errf"
  rc=$?
  if [[ $gpu == 1 ]]; then
    if [[ $rc == 0 ]]; then say "flora bench on xla:cuda ran"; else bad "flora bench on xla:cuda failed (rc=$rc): $(tail -3 "$errf")"; fi
  else
    lines=$(grep -c . "$errf")
    if [[ $rc == 1 && $lines == 1 ]] && grep -qi 'no cuda device' "$errf"; then
      say "without a GPU, flora says: $(cat "$errf")"
    else
      bad "without a GPU flora should fail with one clear line (rc=$rc, $lines lines): $(head -5 "$errf")"
    fi
    # The plugin given by path is loaded too: same single line, no crash.
    "$flora" bench --backend "xla:$plugin" --variant small --mode forward --steps 1 >/dev/null 2>"$errf"
    rc=$?
    lines=$(grep -c . "$errf")
    if [[ $rc == 1 && $lines == 1 ]] && grep -qi 'no cuda device' "$errf"; then
      say "plugin by path, without a GPU: $(cat "$errf")"
    else
      bad "plugin by path without a GPU: rc=$rc, $lines lines: $(head -5 "$errf")"
    fi
  fi
  rm -f "$errf"
fi

if [[ $fail == 0 ]]; then say "all checks passed"; fi
exit $fail
