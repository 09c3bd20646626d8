"""PyTorch reference runs for test/tensor/adamw.test.ts.

Usage: /usr/bin/python3 adamw_reference.py INPUT.json OUTPUT.json

INPUT.json: {"tensors": {"X" [32, 8], "Y" [32, 3], "W0" [8, 3], "b0" [3], "U0" [2],
"g1" [4, 3], "g2" [5]}, "steps": n} (entries as in tensor_json.py), written by the test.

Each optimizer config fits Y ≈ X @ W + b by mean squared error for n steps from (W0, b0),
with two param groups: [W] and [b, U] (U never gets a gradient and must be left alone).
OUTPUT.json: {config: {"W": entry, "b": entry, "U": entry}, "clip": [{"max_norm", "total", "grads"}]}.
The configs here and in the test must agree by name.
"""

import json
import sys

import torch

from tensor_json import decode, encode

CONFIGS = {
    "adamw two groups": lambda W, b, U: torch.optim.AdamW(
        [{"params": [W], "lr": 0.05, "weight_decay": 0.1}, {"params": [b, U], "lr": 0.01, "weight_decay": 0.0}],
        betas=(0.85, 0.995), eps=1e-7, foreach=False,
    ),
    "adamw defaults": lambda W, b, U: torch.optim.AdamW([W, b, U], foreach=False),
    "sgd nesterov with weight decay": lambda W, b, U: torch.optim.SGD(
        [{"params": [W], "lr": 0.02, "weight_decay": 0.01}, {"params": [b, U], "lr": 0.005}],
        lr=0.1, momentum=0.9, nesterov=True, foreach=False,
    ),
    "sgd momentum with dampening": lambda W, b, U: torch.optim.SGD([W, b, U], lr=0.03, momentum=0.8, dampening=0.1, weight_decay=0.05, foreach=False),
    "sgd plain": lambda W, b, U: torch.optim.SGD([W, b, U], lr=0.05, foreach=False),
}

CLIP_MAX_NORMS = [0.5, 1e6]


def fit(make, t, steps):
    W = t["W0"].clone().requires_grad_()
    b = t["b0"].clone().requires_grad_()
    U = t["U0"].clone().requires_grad_()
    opt = make(W, b, U)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = ((t["X"] @ W + b - t["Y"]) ** 2).mean()
        loss.backward()
        opt.step()
    return {"W": encode(W), "b": encode(b), "U": encode(U)}


def clip(t, max_norm):
    params = []
    for name in ("g1", "g2"):
        p = torch.zeros_like(t[name], requires_grad=True)
        p.grad = t[name].clone()
        params.append(p)
    params.append(torch.zeros(3, requires_grad=True))  # no gradient: skipped
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {"max_norm": max_norm, "total": encode(total), "grads": [encode(p.grad) for p in params[:2]]}


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    t = {name: decode(entry) for name, entry in spec["tensors"].items()}
    out = {name: fit(make, t, spec["steps"]) for name, make in CONFIGS.items()}
    out["clip"] = [clip(t, m) for m in CLIP_MAX_NORMS]
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
