#!/usr/bin/env bash
# Where the time of an XLA CPU program goes, per compiled kernel: runs a
# command under `perf record`, and once its programs are compiled (after
# --attach-after seconds) reads the JIT-compiled kernels' symbols from the
# process (XLA registers each kernel object with GDB's JIT interface, so
# `gdb` can copy them out), then attributes every sample to a kernel (XLA
# fusion names such as `multiply_bitcast_fusion.12`, matching the names in an
# `XLA_FLAGS=--xla_dump_to=DIR --xla_dump_hlo_as_text` dump of the same
# program), to the matrix-multiply library code, to the kernel (page faults)
# or to the rest of the XLA runtime.
#
# Usage: scripts/profile-xla-cpu.sh [--out DIR] [--attach-after S] [--skip S] [--top N] -- COMMAND ARGS...
#   --out           where perf.data, the kernel objects and report.txt go (default a temp dir)
#   --attach-after  seconds after the start when every program is compiled (default 20)
#   --skip          seconds of the start not sampled: compilation (default: attach-after − 5)
#   --top           kernels listed (default 40)
# Example (the LoRA step of the bench config, 30 steps):
#   scripts/profile-xla-cpu.sh --attach-after 22 -- ./flora bench --variant small --mode train \
#       --res 512 --text 128 --backend xla:cpu --dtype f32 --steps 30
# Needs perf (linux-perf) and gdb; perf_event_paranoid ≤ 2 is enough (own process, user space).
# Samples in JIT code outside XLA's registered kernels are shown as "unattributed JIT": on
# XLA CPU (xla-cpu-pjrt 0.0.1) that is the matrix-multiply library's own JIT-generated
# micro-kernels (checked by disassembling the hottest address: a broadcast/vfmadd231ps zmm
# GEMM loop, in a code region apart from XLA's kernels, without frame pointers).
set -euo pipefail
cd "$(dirname "$0")/.."
out="" attach=20 skip="" top=40
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --attach-after) attach="$2"; shift 2 ;;
    --skip) skip="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "profile-xla-cpu: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "profile-xla-cpu: no command after -- (see --help)" >&2; exit 2; }
[[ "$attach" =~ ^[0-9]+$ ]] || { echo "profile-xla-cpu: --attach-after must be whole seconds, got $attach" >&2; exit 2; }
[[ -z "$skip" ]] && skip=$(( attach > 5 ? attach - 5 : 0 ))
[[ "$skip" =~ ^[0-9]+$ ]] || { echo "profile-xla-cpu: --skip must be whole seconds, got $skip" >&2; exit 2; }
for tool in perf gdb python3; do
  command -v "$tool" >/dev/null || { echo "profile-xla-cpu: $tool is not installed (apt-get install linux-perf gdb)" >&2; exit 1; }
done
[[ -n "$out" ]] || out=$(mktemp -d)
mkdir -p "$out/obj"
rm -f "$out"/obj/*.o

perf record -D $(( skip * 1000 )) -e cpu-clock -F 499 -o "$out/perf.data" -- "$@" > "$out/command.out" 2>&1 &
perf_pid=$!
sleep "$attach"
pid=$(pgrep -P "$perf_pid" | head -1 || true)
if [[ -z "$pid" ]]; then
  wait "$perf_pid" || true
  echo "profile-xla-cpu: the command ended within --attach-after $attach s; see $out/command.out" >&2
  exit 1
fi
# Each registered JIT object: its in-memory ELF image (address, size).
gdb -p "$pid" -batch -ex 'maint info jit' 2>/dev/null | awk '/^0x/ && NF >= 3 { print $2, $3 }' > "$out/jit.txt" || true
args=() n=0
while read -r addr size; do
  args+=(-ex "dump binary memory $out/obj/$n.o $addr $(printf '0x%x' $(( addr + size )))")
  n=$((n + 1))
done < "$out/jit.txt"
[[ $n -gt 0 ]] && gdb -p "$pid" -batch "${args[@]}" > /dev/null 2>&1 || true
wait "$perf_pid" || echo "profile-xla-cpu: the command failed; see $out/command.out" >&2
echo "profile-xla-cpu: $n kernel objects; report in $out/report.txt" >&2
python3 tools/perf/xla_cpu_profile.py "$out" --top "$top" | tee "$out/report.txt"
