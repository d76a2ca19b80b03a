"""Writes examples/official-tiny/captions.safetensors: an embedding table
(see model/textenc/table.go) for the captions of examples/tiny/data, so the
official tiny fixture — which has no text encoder — can be trained on.

The fixture's transformer takes a context of width 40 from an encoder that
does not exist, so the rows are seeded random vectors: what matters for the
check is that Flora trains, exports, and that the official code applies the
trained adapter exactly as Flora does (tools/reference/official_lora_check.py).

The prompts are the captions Flora trains on (trigger applied, the empty
caption for dropout, the preview prompt), listed with
`flora data embed --config examples/tiny/train.yaml --out T` (any table
written from the tiny job has them in its "prompts" metadata):

    python tools/reference/fixture_table.py --prompts-from T \
        --out examples/official-tiny/captions.safetensors
"""
import argparse
import json

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts-from", required=True, help="a table whose 'prompts' metadata lists the captions")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--width", type=int, default=40, help="the fixture's context_in_dim")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with safe_open(args.prompts_from, "np") as f:
        prompts = json.loads(f.metadata()["prompts"])
    rng = np.random.default_rng(args.seed)
    ctx = rng.standard_normal((len(prompts), args.tokens, args.width)).astype(np.float32)
    save_file({"ctx": ctx}, args.out, metadata={"prompts": json.dumps(prompts)})
    print(f"wrote {args.out}: {len(prompts)} prompts, ctx {list(ctx.shape)}")


if __name__ == "__main__":
    main()
