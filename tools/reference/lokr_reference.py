"""LoKr parity fixture: LyCORIS' LokrModule on nn.Linear(in=24, out=36).

For factor 4 and -1 (auto), each with a full and a low-rank w2, this builds
lycoris' LokrModule (pip install lycoris-lora; written against 4.1.3), fills
every factor with random values (lycoris zero-initialises w2 / w2_b, which
would make dW = 0), and writes to lora/testdata/lokr/lokr_reference.safetensors:

  x [3, 24], weight [36, 24], bias [36]     the base layer and an input
  <case>.lokr_w1, .lokr_w2 | .lokr_w2_a/.lokr_w2_b, .alpha
                                            the module's state_dict, as lycoris saves it
  <case>.delta [36, 24]                     dW = scale * kron(w1, w2) (get_weight, what forward applies)
  <case>.y [3, 36]                          the adapted layer's forward output

Header metadata "<case>" holds "factor,rank,alpha,full". The script checks
that forward equals x (W + dW)^T + b and that dW equals ComfyUI's formula
(alpha/rank with a low-rank w2, 1 with a full one) before writing.

Run: /tmp/refenv/bin/python tools/reference/lokr_reference.py
"""

import os

import torch
from lycoris.modules.lokr import LokrModule
from safetensors.torch import save_file

IN, OUT = 24, 36
CASES = [  # name, factor, lora_dim, alpha, full_matrix
    ("f4_full", 4, 8, 8.0, True),
    ("f4_lowrank", 4, 2, 3.0, False),
    ("auto_full", -1, 16, 16.0, True),
    ("auto_lowrank", -1, 2, 1.0, False),
]


def main():
    torch.manual_seed(20)
    base = torch.nn.Linear(IN, OUT)
    x = torch.randn(3, IN)
    weight = base.weight.detach().clone()
    bias = base.bias.detach().clone()
    out = {"x": x, "weight": weight, "bias": bias}
    meta = {}
    for name, factor, dim, alpha, full in CASES:
        lin = torch.nn.Linear(IN, OUT)
        lin.load_state_dict({"weight": weight, "bias": bias})
        net = LokrModule("lokr", lin, multiplier=1.0, lora_dim=dim, alpha=alpha, factor=factor, full_matrix=full)
        with torch.no_grad():
            for pname, p in net.named_parameters():
                p.copy_(torch.randn_like(p) * 0.5)
        net.apply_to()
        with torch.no_grad():
            delta = net.get_weight(net.shape).float()
            y = lin(x)
        sd = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()}
        assert ("lokr_w2" in sd) == full, (name, sorted(sd))
        # ComfyUI's calculate_weight: scale alpha/dim with a low-rank w2 (dim = w2_b rows), else 1.
        w2 = sd["lokr_w2"] if full else sd["lokr_w2_a"] @ sd["lokr_w2_b"]
        s = 1.0 if full else float(sd["alpha"]) / sd["lokr_w2_b"].shape[0]
        comfy = s * torch.kron(sd["lokr_w1"], w2)
        assert torch.allclose(delta, comfy, rtol=1e-6, atol=1e-6), name
        assert torch.allclose(y, x @ (weight + delta).T + bias, rtol=1e-5, atol=1e-5), name
        for k, v in sd.items():
            out[f"{name}.{k}"] = v.reshape(v.shape)
        out[f"{name}.delta"] = delta.contiguous()
        out[f"{name}.y"] = y.contiguous()
        meta[name] = f"{factor},{dim},{alpha:g},{int(full)}"
        print(name, {k: tuple(v.shape) for k, v in sd.items()}, "alpha", float(sd["alpha"]), "scale", net.scale)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "lora", "testdata", "lokr", "lokr_reference.safetensors")
    save_file(out, os.path.normpath(path), metadata=meta)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
