"""Shared by the diffusers-parity fixture generators (flux2_transformer.py,
flux2_vae.py): the output folder argument and the saving of each tiny
configuration with diffusers' own save_pretrained."""
import os
import sys


def out_dir(default: str = os.path.join("testdata", "diffusers")) -> str:
    """The OUT_DIR argument, else the default (relative to the repository root)."""
    return sys.argv[1] if len(sys.argv) > 1 else default


def saved_models(configs: dict, build, subfolder: str, root: str):
    """Builds each configuration with build(opts, seed) (seed: its position in
    configs), saves it into root/NAME/subfolder (sharded at opts["shard"] when
    set) and yields (seed, name, opts, model)."""
    for seed, (name, opts) in enumerate(configs.items()):
        model = build(opts, seed)
        folder = os.path.join(root, name, subfolder)
        os.makedirs(folder, exist_ok=True)
        kwargs = {"max_shard_size": opts["shard"]} if opts.get("shard") else {}
        model.save_pretrained(folder, safe_serialization=True, **kwargs)
        yield seed, name, opts, model
