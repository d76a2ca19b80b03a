#!/usr/bin/env bash
# The memory plan against measured peaks (issue 15): runs one LoRA training
# step of each reduced configuration with `flora bench` on a CPU backend and
# compares the plan's total for that backend (train.EstimateMemory with
# train.PlanDeviceFor) with the step's peak resident memory minus the
# process's resident memory before the model was built. Exits 1 when a
# configuration is outside ±15%.
#
#   scripts/plan-vs-measured.sh [--backend xla:cpu|go] [--out results.jsonl]
#
# About 10 minutes on 2 cores with XLA CPU; the dev-width configuration needs
# ~10 GiB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=xla:cpu
out=""
while (($#)); do
  case $1 in
    --backend) backend=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--backend xla:cpu|go] [--out results.jsonl]" >&2; exit 2 ;;
  esac
done

flora=$(mktemp -d)/flora
go build -o "$flora" ./cmd/flora
results=${out:-$(mktemp)}
: >"$results"

# name | bench flags
configs=(
  "small, 9216+64 tokens|--variant small --res 1536 --text 64"
  "klein-4b width, 2+2 blocks, 512², f32|--variant klein-4b --double-blocks 2 --single-blocks 2 --res 512 --text 64"
  "dev width, 1+1 blocks, 256², NF4|--variant dev --double-blocks 1 --single-blocks 1 --quantize nf4 --res 256 --text 64"
)
for c in "${configs[@]}"; do
  name=${c%%|*}
  read -r -a flags <<<"${c#*|}"
  echo "== $name" >&2
  "$flora" bench --mode train --checkpointing --backend "$backend" --dtype f32 --steps 1 --json "${flags[@]}" 2>/dev/null |
    tail -1 | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["config"]=sys.argv[1]; print(json.dumps(r))' "$name" >>"$results"
done

python3 - "$results" <<'EOF'
import json, sys
M = 2**20
bad = 0
print("| configuration | step | planned | measured (step peak − baseline) | plan / measured |")
print("|---|---|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    measured = r["step_peak_rss_bytes"] - r["baseline_rss_bytes"]
    ratio = r["plan_bytes"] / measured
    bad += not (0.85 <= ratio <= 1.15)
    print(f'| {r["config"]} | {r["min_step_ms"]/1000:.1f} s | {r["plan_bytes"]/M:.0f} MiB | {measured/M:.0f} MiB '
          f'(resident after warm-up {(r["warm_rss_bytes"]-r["baseline_rss_bytes"])/M:.0f}) | {ratio:.2f} |')
sys.exit(1 if bad else 0)
EOF
