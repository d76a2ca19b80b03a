#!/usr/bin/env python3
"""Attribute `perf record` samples of an XLA CPU program to its compiled kernels.

Input: a directory written by scripts/profile-xla-cpu.sh: perf.data and
obj/*.o, the JIT kernel objects copied out of the process (their section
addresses are the load addresses, so `nm` gives each kernel's address range).
Output: the share of samples per category (XLA kernels, matrix-multiply
library, kernel, ...), per kernel, and per kernel kind (the fusion name
without its numeric suffix). Standard library only; needs `perf` and `nm`.
"""
import argparse
import bisect
import collections
import glob
import os
import re
import subprocess


def kernel_symbols(obj_dir):
    syms = []
    for path in glob.glob(os.path.join(obj_dir, "*.o")):
        out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 4 and f[2] in "Tt":
                syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    syms.sort()
    return syms


def category(sym, dso):
    if "Eigen" in sym and any(w in sym for w in ("Contraction", "gemm", "gebp", "pack")):
        return "matmul library (Eigen contraction, packing)"
    if "Eigen" in sym or "ThreadPool" in sym or "RunQueue" in sym:
        return "thread pool"
    if dso.startswith("["):
        return "kernel " + dso
    if dso.startswith("pjrt") or "xla" in dso:
        return "XLA runtime (other)"
    return dso


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    syms = kernel_symbols(os.path.join(a.dir, "obj"))
    starts = [s[0] for s in syms]
    script = subprocess.run(["perf", "script", "-i", os.path.join(a.dir, "perf.data"), "-F", "ip,sym,dso"],
                            capture_output=True, text=True).stdout
    cats, kernels = collections.Counter(), collections.Counter()
    total = 0
    for line in script.splitlines():
        f = line.split(None, 1)
        if not f:
            continue
        total += 1
        ip = int(f[0], 16)
        rest = f[1] if len(f) > 1 else ""
        m = re.search(r"\(([^)]*)\)\s*$", rest)
        dso = os.path.basename(m.group(1)) if m else "?"
        sym = rest.rsplit("(", 1)[0].strip()
        if dso.startswith("perf-") or dso == "[unknown]":  # JIT code
            i = bisect.bisect_right(starts, ip) - 1
            if i >= 0 and ip < syms[i][0] + max(syms[i][1], 1):
                kernels[syms[i][2]] += 1
                cats["XLA kernels (fusions, copies, reductions)"] += 1
            else:
                cats["unattributed JIT (matmul micro-kernels)"] += 1
        else:
            cats[category(sym, dso)] += 1
    if total == 0:
        print("no samples")
        return
    pct = lambda v: 100.0 * v / total
    print(f"{total} samples")
    for k, v in cats.most_common():
        print(f"  {pct(v):5.1f}%  {k}")
    print(f"\ntop {a.top} XLA kernels:")
    for k, v in kernels.most_common(a.top):
        print(f"  {pct(v):5.1f}%  {k}")
    kinds = collections.Counter()
    for k, v in kernels.items():
        kinds[re.sub(r"(\.\d+)+$", "", k)] += v
    print("\nby kernel kind:")
    for k, v in kinds.most_common(a.top):
        print(f"  {pct(v):5.1f}%  {k}")


if __name__ == "__main__":
    main()
