"""PyTorch reference for test/sae/architectures.test.ts: SAE forward passes, training losses and
their gradients, written independently of basin (the JumpReLU pseudo-gradients as
torch.autograd.Function backward passes, as SAELens writes them).

Usage: /usr/bin/python3 sae_reference.py INPUT.json OUTPUT.json

INPUT.json: {"cases": {name: {
    "config": {"architecture": standard|topk|batchtopk|jumprelu, "apply_b_dec_to_input": bool,
               "normalize_activations": none|expected_average_only_in|constant_norm_rescale|layer_norm,
               "norm_scaling_factor": float|null, "k": number|null, "rescale_acts_by_decoder_norm": bool},
    "settings": {"l1_coefficient", "l1_warm_up_steps", "aux_coefficient", "l0_coefficient",
                 "l0_warm_up_steps", "bandwidth", "pre_act_coefficient" (null: off), "threshold_lr"},
    "step": int,
    "tensors": {W_enc, b_enc, W_dec, b_dec, threshold?, x, dead? (bool [d_sae])}}}}
  (tensor entries as in tensor_json.py)
OUTPUT.json: {name: {
    "inference": {acts, recon, pre},          the inference pass before training
    "train_acts": tensor,                     the training pass's latents
    "losses": {part: 0-d tensor},             mse, the architecture's parts, total
    "grads": {part: {param: tensor}},         d part / d param (zeros where it does not depend)
    "after": {acts, recon, threshold?}}}      the inference pass after the training pass
                                               (batchtopk: with the threshold that pass moved)

The math, as basin documents it: normalise (per config) -> subtract b_dec (if applied) ->
pre = x' @ W_enc + b_enc (x ||W_dec,i|| for topk/batchtopk rescaled by decoder norms) ->
activate -> recon = (acts / scale) @ W_dec + b_dec -> un-normalise. mse = (recon - x)^2.sum(-1).mean().
The aux-k residual is taken in the working (normalised) space; layer_norm is undone exactly,
y * (std + eps) + mean.
"""

import json
import sys

import torch

from tensor_json import decode, encode

LAYER_NORM_EPS = 1e-5


def rectangle(u):
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


def sum_to_latents(t, d_sae):
    return t.reshape(-1, d_sae).sum(0)


class JumpReLUFunction(torch.autograd.Function):
    """x * 1[x > theta]; dx = 1[x > theta] g, dtheta = -(theta / bw) rect((x - theta) / bw) g."""

    @staticmethod
    def forward(ctx, x, theta, bandwidth):
        ctx.save_for_backward(x, theta)
        ctx.bandwidth = bandwidth
        return x * (x > theta).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, theta = ctx.saved_tensors
        bw = ctx.bandwidth
        dx = (x > theta).to(x.dtype) * g
        dtheta = sum_to_latents(-(theta / bw) * rectangle((x - theta) / bw) * g, theta.shape[0])
        return dx, dtheta, None


class StepFunction(torch.autograd.Function):
    """1[x > theta]; no gradient to x, dtheta = -(1 / bw) rect((x - theta) / bw) g."""

    @staticmethod
    def forward(ctx, x, theta, bandwidth):
        ctx.save_for_backward(x, theta)
        ctx.bandwidth = bandwidth
        return (x > theta).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, theta = ctx.saved_tensors
        bw = ctx.bandwidth
        dtheta = sum_to_latents(-(1.0 / bw) * rectangle((x - theta) / bw) * g, theta.shape[0])
        return None, dtheta, None


def normalize(x, cfg):
    """(x in the working space, function mapping a reconstruction back)"""
    mode = cfg["normalize_activations"]
    if mode == "none":
        return x, lambda y: y
    if mode == "expected_average_only_in":
        s = cfg["norm_scaling_factor"]
        return x * s, lambda y: y / s
    if mode == "constant_norm_rescale":
        factor = (x.shape[-1] ** 0.5) / x.norm(dim=-1, keepdim=True)
        return x * factor, lambda y: y / factor
    if mode == "layer_norm":
        mean = x.mean(dim=-1, keepdim=True)
        centred = x - mean
        spread = centred.std(dim=-1, keepdim=True) + LAYER_NORM_EPS
        return centred / spread, lambda y: y * spread + mean
    raise ValueError(f"unknown normalize_activations {mode}")


def top_k_scattered(values, k, transform=lambda v: v):
    top = torch.topk(values, k, dim=-1)
    return torch.zeros_like(values).scatter(-1, top.indices, transform(top.values))


def activate(pre, w, cfg, settings, training):
    arch = cfg["architecture"]
    if arch == "standard":
        return torch.relu(pre)
    if arch == "topk":
        return top_k_scattered(pre, int(cfg["k"]), torch.relu)
    if arch == "batchtopk":
        if training or w.get("threshold") is None:
            acts = torch.relu(pre)
            flat = acts.flatten()
            n_tokens = acts.shape[:-1].numel()
            return top_k_scattered(flat, int(cfg["k"] * n_tokens)).reshape(acts.shape)
        return torch.relu(pre) * (pre > w["threshold"]).to(pre.dtype)
    if arch == "jumprelu":
        theta = torch.relu(w["threshold"])
        if training:
            return JumpReLUFunction.apply(pre, theta, settings["bandwidth"])
        return torch.relu(pre) * (pre > theta).to(pre.dtype)
    raise ValueError(f"unknown architecture {arch}")


def latent_scale(w, cfg):
    if cfg["architecture"] in ("topk", "batchtopk") and cfg["rescale_acts_by_decoder_norm"]:
        return w["W_dec"].norm(dim=-1)
    return None


def times_w_dec(latents, w, cfg):
    scale = latent_scale(w, cfg)
    return (latents if scale is None else latents / scale) @ w["W_dec"]


def sae_pass(x, w, cfg, settings, training):
    working, undo = normalize(x, cfg)
    centred = working - w["b_dec"] if cfg["apply_b_dec_to_input"] else working
    pre = centred @ w["W_enc"] + w["b_enc"]
    scale = latent_scale(w, cfg)
    if scale is not None:
        pre = pre * scale
    acts = activate(pre, w, cfg, settings, training)
    recon_working = times_w_dec(acts, w, cfg) + w["b_dec"]
    return {"working": working, "pre": pre, "acts": acts, "recon_working": recon_working, "recon": undo(recon_working)}


def warmed_up(coefficient, warm_up_steps, step):
    return coefficient * min(1.0, step / warm_up_steps) if warm_up_steps > 0 else coefficient


def aux_k_loss(p, w, cfg, settings, dead):
    zero = p["pre"].new_zeros(())
    if dead is None or int(dead.sum()) == 0:
        return zero
    n_dead = int(dead.sum())
    k_aux = max(1, p["working"].shape[-1] // 2)
    scale = min(n_dead / k_aux, 1.0)
    k_aux = min(k_aux, n_dead)
    residual = (p["working"] - p["recon_working"]).detach()
    dead_pre = torch.where(dead[None], p["pre"], torch.full_like(p["pre"], -torch.inf))
    aux_acts = top_k_scattered(dead_pre, k_aux)
    aux_recon = times_w_dec(aux_acts, w, cfg)
    return settings["aux_coefficient"] * scale * (aux_recon - residual).pow(2).sum(-1).mean()


def loss_parts(p, x, w, cfg, settings, step, dead):
    arch = cfg["architecture"]
    parts = {"mse": (p["recon"] - x).pow(2).sum(-1).mean()}
    if arch == "standard":
        coefficient = warmed_up(settings["l1_coefficient"], settings["l1_warm_up_steps"], step)
        parts["sparsity"] = coefficient * (p["acts"] * w["W_dec"].norm(dim=1)).norm(p=1, dim=-1).mean()
    elif arch in ("topk", "batchtopk"):
        parts["aux"] = aux_k_loss(p, w, cfg, settings, dead)
    elif arch == "jumprelu":
        theta = torch.relu(w["threshold"])
        coefficient = warmed_up(settings["l0_coefficient"], settings["l0_warm_up_steps"], step)
        parts["l0"] = coefficient * StepFunction.apply(p["pre"], theta, settings["bandwidth"]).sum(-1).mean()
        if settings["pre_act_coefficient"] is not None:
            if dead is None or not bool(dead.any()):
                parts["preAct"] = p["pre"].new_zeros(())
            else:
                per_token = (torch.relu(theta - p["pre"]) * dead * w["W_dec"].norm(dim=1)).sum(-1)
                parts["preAct"] = settings["pre_act_coefficient"] * per_token.mean()
    total = parts["mse"]
    for name, part in parts.items():
        if name != "mse":
            total = total + part
    parts["total"] = total
    return parts


def update_threshold(acts, threshold, lr):
    """batchtopk: the moving average of the smallest positive latent (f64)."""
    with torch.no_grad():
        positive = acts > 0
        if positive.any():
            smallest = acts[positive].min().to(threshold.dtype)
            return (1 - lr) * threshold + lr * smallest
        return threshold


def run_case(case):
    cfg, settings, step = case["config"], case["settings"], case["step"]
    t = {name: decode(entry) for name, entry in case["tensors"].items()}
    x, dead = t.pop("x"), t.pop("dead", None)
    w = dict(t)
    trained = ["W_enc", "b_enc", "W_dec", "b_dec"] + (["threshold"] if cfg["architecture"] == "jumprelu" else [])
    for name in trained:
        w[name] = w[name].clone().requires_grad_(True)

    with torch.no_grad():
        before = sae_pass(x, w, cfg, settings, training=False)

    p = sae_pass(x, w, cfg, settings, training=True)
    parts = loss_parts(p, x, w, cfg, settings, step, dead)
    grads = {}
    for name, part in parts.items():
        if part.requires_grad:
            got = torch.autograd.grad(part, [w[n] for n in trained], retain_graph=True, allow_unused=True)
        else:
            got = [None] * len(trained)
        grads[name] = {n: encode(g if g is not None else torch.zeros_like(w[n])) for n, g in zip(trained, got)}

    if cfg["architecture"] == "batchtopk":
        start = w.get("threshold")
        if start is None:
            start = torch.zeros(w["b_enc"].shape, dtype=torch.float64)
        w["threshold"] = update_threshold(p["acts"].detach(), start, settings["threshold_lr"])
    with torch.no_grad():
        after = sae_pass(x, w, cfg, settings, training=False)

    out = {
        "inference": {k: encode(before[k]) for k in ("acts", "recon", "pre")},
        "train_acts": encode(p["acts"]),
        "losses": {name: encode(part) for name, part in parts.items()},
        "grads": grads,
        "after": {"acts": encode(after["acts"]), "recon": encode(after["recon"])},
    }
    if cfg["architecture"] == "batchtopk":
        out["after"]["threshold"] = encode(w["threshold"])
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: sae_reference.py INPUT.json OUTPUT.json")
    torch.set_num_threads(1)
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    result = {name: run_case(case) for name, case in cases.items()}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
