#!/usr/bin/env bash
# Flora's test command: the whole suite on the pure-Go backend, then again on
# XLA CPU (installing its PJRT plugin from PyPI if needed). Without network
# access to PyPI the XLA pass is skipped with a message, unless
# FLORA_REQUIRE_XLA is set (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go test ./... (pure-Go backend)"
go test ./...

if scripts/install-xla-cpu.sh; then
  echo "== go test ./... (XLA CPU backend)"
  FLORA_TEST_BACKEND=xla:cpu FLORA_REQUIRE_XLA=1 go test ./...
elif [[ -n "${FLORA_REQUIRE_XLA:-}" ]]; then
  echo "XLA CPU plugin could not be installed and FLORA_REQUIRE_XLA is set" >&2
  exit 1
else
  echo "XLA CPU plugin unavailable: the suite ran on the pure-Go backend only"
fi
