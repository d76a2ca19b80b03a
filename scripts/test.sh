#!/usr/bin/env bash
# Flora's test command: installs the XLA CPU PJRT plugin from PyPI if needed
# (scripts/install-xla-cpu.sh), then runs the whole suite on the pure-Go
# backend and again on XLA CPU. The plugin is installed first so that both
# passes see the same machine: on a brand-new machine nothing was installed
# by hand. Without access to PyPI the XLA pass is skipped with a message,
# unless FLORA_REQUIRE_XLA is set (CI sets it), which makes that an error.
set -euo pipefail
cd "$(dirname "$0")/.."

xla=1
if ! scripts/install-xla-cpu.sh; then
  if [[ -n "${FLORA_REQUIRE_XLA:-}" ]]; then
    echo "XLA CPU plugin could not be installed and FLORA_REQUIRE_XLA is set" >&2
    exit 1
  fi
  xla=0
fi

# One package may take longer than go test's default 10 minutes on a slow
# machine (train on XLA CPU compiles every block-wise program of every
# memory mode): the limit is per package binary, the CI limit is 90 minutes.
echo "== go test ./... (pure-Go backend)"
go test -timeout 30m ./...

if [[ $xla == 1 ]]; then
  echo "== go test ./... (XLA CPU backend)"
  FLORA_TEST_BACKEND=xla:cpu FLORA_REQUIRE_XLA=1 go test -timeout 30m ./...
else
  echo "XLA CPU plugin unavailable: the suite ran on the pure-Go backend only"
fi
