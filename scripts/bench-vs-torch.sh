#!/usr/bin/env bash
# Flora vs PyTorch (diffusers + PEFT) on the same machine, same shapes:
# `flora bench` and its twin tools/reference/bench_torch.py, alternating per
# configuration (so machine noise hits both), for the transformer forward and
# the LoRA training step (rank 16 on every block linear, float32, AdamW,
# batch 1) of the `small` variant (D=256, 4 heads, 2 double + 4 single
# blocks) at 256+64, 1024+128 and 9216+64 image+text tokens. Prints each
# figure, the ratio Flora/PyTorch and each side's peak RSS (VmHWM).
#
# Usage: scripts/bench-vs-torch.sh [--backend xla:cpu|go] [--quick] [--threads N]
#            [--steps N] [--repeat R] [--omp-wait passive|active] [--variant small]
#            [--timeout S] [--out FILE.jsonl]
#   --backend  Flora's backend (default xla:cpu; its plugin is installed with
#              scripts/install-xla-cpu.sh when missing)
#   --quick    only the two smaller sizes
#   --threads  threads for both sides (default 2): torch.set_num_threads(N),
#              and both processes pinned to N cores with taskset when the
#              machine has more (Flora's backends use every core they see)
#   --steps    measured steps after one warm-up step (default 5; the 9216+64
#              size measures 1)
#   --repeat   runs per side and configuration, alternating (default 1; the
#              9216+64 size runs once); the table shows each side's fastest
#   --omp-wait PyTorch's OMP_WAIT_POLICY (default passive): on a machine shared
#              with other work, OpenMP's spinning worker threads (active, its
#              default) make torch 10-20x slower at 2 threads; pass active on a
#              quiet dedicated machine
#   --timeout  seconds allowed per run (default 900); a run over it shows
#              "timeout" in the table
#   --out      also write every result as JSON lines to FILE
# Environment: FLORA_REFENV, the Python venv with tools/reference/requirements.txt
# (default /tmp/refenv; created and filled from PyPI when missing — torch is large).
set -euo pipefail
cd "$(dirname "$0")/.."

backend=xla:cpu quick=0 threads=2 steps=5 repeat=1 omp_wait=passive variant=small timeout_s=900 out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backend) backend="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --omp-wait) omp_wait="$2"; shift 2 ;;
    --variant) variant="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench-vs-torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$backend" in go|xla:cpu) ;; *) echo "bench-vs-torch: --backend must be xla:cpu or go, got $backend" >&2; exit 2 ;; esac
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "bench-vs-torch: --threads must be a positive integer, got $threads" >&2; exit 2; }
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "bench-vs-torch: --steps must be a positive integer, got $steps" >&2; exit 2; }
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "bench-vs-torch: --repeat must be a positive integer, got $repeat" >&2; exit 2; }
case "$omp_wait" in passive|active) ;; *) echo "bench-vs-torch: --omp-wait must be passive or active, got $omp_wait" >&2; exit 2 ;; esac

say() { echo "bench-vs-torch: $*" >&2; }

# On a shared machine the benchmark processes (9216+64 tokens train at ~20 GiB)
# are the ones the kernel ends first when memory runs out, not other work.
echo 1000 >/proc/self/oom_score_adj 2>/dev/null || true

# Python side: the reference venv.
refenv="${FLORA_REFENV:-/tmp/refenv}"
if ! "$refenv/bin/python" -c 'import torch, diffusers, peft' 2>/dev/null; then
  say "setting up $refenv from tools/reference/requirements.txt (PyPI; torch is large)"
  python3 -m venv "$refenv"
  "$refenv/bin/pip" install --quiet -r tools/reference/requirements.txt
fi

# Flora side.
if [[ "$backend" == xla:cpu ]]; then
  scripts/install-xla-cpu.sh >&2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flora="$tmp/flora"
results="$tmp/results.jsonl"
say "building $flora"
go build -o "$flora" ./cmd/flora

pin=()
if (( threads < $(nproc) )) && command -v taskset >/dev/null; then
  pin=(taskset -c "0-$((threads - 1))")
fi

# run SIDE MODE RES TEXT STEPS: one measurement, its JSON line appended to $results.
run() {
  local side=$1 mode=$2 res=$3 text=$4 n=$5 line rc=0
  local cmd
  if [[ $side == flora ]]; then
    cmd=("$flora" bench --variant "$variant" --mode "$mode" --res "$res" --text "$text" --rank 16
      --backend "$backend" --dtype f32 --steps "$n" --json)
  else
    cmd=(env OMP_WAIT_POLICY="$omp_wait" "$refenv/bin/python" tools/reference/bench_torch.py --variant "$variant" --mode "$mode" --res "$res"
      --text "$text" --rank 16 --dtype f32 --threads "$threads" --steps "$n")
  fi
  say "$side $mode res $res text $text: ${pin[*]} ${cmd[*]}"
  line=$(timeout "$timeout_s" "${pin[@]}" "${cmd[@]}" 2>/dev/null | tail -1) || rc=$?
  if [[ $rc -ne 0 || "$line" != "{"* ]]; then
    local why="exit $rc"
    [[ $rc == 124 ]] && why=timeout
    [[ $rc == 137 ]] && why="killed (out of memory?)"
    say "$side $mode res $res text $text failed ($why)"
    line="{\"mode\": \"$mode\", \"error\": \"$why\"}"
  fi
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(side=sys.argv[2], res=int(sys.argv[3]), text=int(sys.argv[4])); print(json.dumps(r))' \
    "$line" "$side" "$res" "$text" >>"$results"
}

# res text: 256 image tokens + 64, 1024 + 128, 9216 + 64.
sizes=("256 64" "512 128")
(( quick )) || sizes+=("1536 64")
for size in "${sizes[@]}"; do
  read -r res text <<<"$size"
  n=$steps reps=$repeat
  (( res > 1024 )) && n=1 reps=1
  for ((rep = 0; rep < reps; rep++)); do
    for mode in forward train; do
      run flora "$mode" "$res" "$text" "$n"
      run torch "$mode" "$res" "$text" "$n"
    done
  done
done

[[ -n "$out" ]] && cp "$results" "$out"
python3 - "$results" "$backend" "$threads" "$omp_wait" "$(nproc)" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
backend, threads, omp_wait, nproc = sys.argv[2:6]
def st(r):
    """The step time compared: the fastest measured step (min_step_ms) when the
    run reports it, else the mean; the fastest step moves least with other
    work on a shared machine."""
    if not r:
        return None
    return r.get("min_step_ms", r.get("ms_per_step"))
by = {}  # fastest run per side and configuration, largest peak RSS
for r in rows:
    k = (r["side"], r["mode"], r["res"], r["text"])
    old = by.get(k)
    if old is None or (st(r) is not None and (st(old) is None or st(r) < st(old))):
        if old and "peak_rss_bytes" in old:
            r["peak_rss_bytes"] = max(r.get("peak_rss_bytes", 0), old["peak_rss_bytes"])
        by[k] = r
    elif "peak_rss_bytes" in r:
        old["peak_rss_bytes"] = max(old.get("peak_rss_bytes", 0), r["peak_rss_bytes"])
sizes = sorted({(r["res"], r["text"]) for r in rows})
meta = next((r for r in rows if r.get("torch")), {})
print(f"Flora ({backend}) vs PyTorch {meta.get('torch', '?')} + diffusers {meta.get('diffusers', '?')} + PEFT "
      f"{meta.get('peft', '?')} (CPU, {threads} threads, OMP_WAIT_POLICY={omp_wait}; machine: {nproc} cores)")
print("small variant unless --variant; LoRA rank 16 on every block linear (train), float32, batch 1;")
print("ms/step is the fastest measured step of the fastest run (the JSON lines also hold each run's mean)")
print()
print("| tokens (image + text) | mode | Flora ms/step | PyTorch ms/step | Flora / PyTorch | Flora peak RSS | PyTorch peak RSS |")
print("|---|---|---|---|---|---|---|")
def ms(r): return f"{st(r):,.0f}" if st(r) is not None else (r or {}).get("error", "—")
def gib(r): return f"{r['peak_rss_bytes'] / 2**30:.2f} GiB" if r and "peak_rss_bytes" in r else "—"
def ratio(a, b): return f"{st(a) / st(b):.2f}" if st(a) is not None and st(b) is not None else "—"
for res, text in sizes:
    for mode in ("forward", "train"):
        f, t = by.get(("flora", mode, res, text)), by.get(("torch", mode, res, text))
        tok = (res // 16) ** 2
        print(f"| {tok} + {text} | {mode} | {ms(f)} | {ms(t)} | {ratio(f, t)} | {gib(f)} | {gib(t)} |")
print()
for res, text in sizes:
    def tf(side):
        return ratio(by.get((side, "train", res, text)), by.get((side, "forward", res, text)))
    print(f"train step / forward at {(res // 16) ** 2} + {text}: Flora {tf('flora')}, PyTorch {tf('torch')}")
for key in ("parameters", "lora_targets", "lora_parameters"):
    for (side, mode, res, text), f in by.items():
        t = by.get(("torch", mode, res, text))
        if side == "flora" and t and key in f and key in t and f[key] != t[key]:
            print(f"warning: {key} differ: Flora {f[key]}, PyTorch {t[key]}")
            break
EOF
