"""PyTorch reference values for test/tensor/peer-ops.test.ts.

Usage: /usr/bin/python3 ops_reference.py INPUTS.json OUTPUTS.json

INPUTS.json: {"tensors": {name: tensor entry}} (entries as in tensor_json.py), written by the
test. OUTPUTS.json: {case name: [tensor entry, ...]} or {case name: {"error": message}}.
Each case below has a twin of the same name in the test, which evaluates it with basin.
Random cases draw from torch.Generator().manual_seed(seed) and must match basin exactly.
"""

import json
import math
import sys

import torch
import torch.nn.functional as F

from tensor_json import decode, encode


def gen(seed):
    return torch.Generator().manual_seed(seed)


def attention_reference(q, k, v, mask=None, causal=False):
    """softmax(q kᵀ/√d + mask) v; causal keeps key j for query i when j ≤ i + (nk − nq)
    (bottom-right aligned, the KV-cache convention)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    nq, nk = q.shape[-2], k.shape[-2]
    if causal:
        keep = torch.ones(nq, nk, dtype=torch.bool).tril(nk - nq)
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return scores.softmax(-1) @ v


def random_state_case():
    g = gen(5)
    torch.randn(3, generator=g)
    return [torch.frombuffer(bytearray(g.get_state().numpy().tobytes()), dtype=torch.uint8)]


def global_seed_case():
    torch.manual_seed(123)
    return [torch.randn(4), torch.rand(3)]


def same_generator_sequence_case():
    g = gen(21)
    return [torch.randn(5, generator=g), torch.rand(5, generator=g), torch.randint(0, 100, (5,), generator=g)]


CASES = {
    # ---- elementwise arithmetic and dtype promotion ----
    "add broadcast f32": lambda x: [x["a"] + x["c"]],
    "sub f64": lambda x: [x["a64"] - x["b64"]],
    "mul f32 by f64 → f64": lambda x: [x["a"] * x["a64"]],
    "div f32": lambda x: [x["a"] / x["pos"]],
    "add alpha": lambda x: [torch.add(x["a"], x["b"], alpha=-2.5)],
    "i64 + 2.5 → f32": lambda x: [x["iv"] + 2.5],
    "i64 + 2 → i64": lambda x: [x["iv"] + 2],
    "i32 · 0.5 → f32": lambda x: [x["jv"] * 0.5],
    "i64 / 2 → f32 (true division)": lambda x: [x["iv"] / 2],
    "i64 + f64 tensor → f64": lambda x: [x["iv"] + x["fv"]],
    "i32 + i64 → i64": lambda x: [x["jv"] + x["iv"]],
    "u8 + i8 → i16": lambda x: [x["u8v"] + x["i8v"]],
    "bool + 1 → i64": lambda x: [x["bv"] + 1],
    "bool · 1.5 → f32": lambda x: [x["bv"] * 1.5],
    "f32 + 0-d f64 → f32": lambda x: [x["a"] + x["s64"]],
    "i32 − 0.25 → f32": lambda x: [x["jv"] - 0.25],
    "rsub and scalar ops": lambda x: [3 - x["a"], x["a"] * -1.7, x["a"] / 0.3, x["a"] - 1.25],
    "scalars beyond f32 range and f64 precision": lambda x: [x["a"] * 1e300, x["a"] + 1e-300, x["a"] > 1e300, x["a"] < -1e300,
                                                             x["a64"] * 0.1, x["a64"] + 1e-300, x["a"] * 0.1, x["a"] == 0.1],
    "remainder (sign of divisor)": lambda x: [torch.remainder(x["a"] * 3, 2), torch.remainder(x["iv"], 4), torch.remainder(x["a"], x["pos"])],
    "pow": lambda x: [x["pos"] ** 2.5, x["pos"] ** x["a"], x["iv"] ** 2, x["a"] ** 3],
    "unary f32": lambda x: [
        x["a"].exp(), x["pos"].log(), x["pos"].sqrt(), x["pos"].rsqrt(), x["a"].tanh(), x["a"].sigmoid(),
        F.gelu(x["a"]), F.gelu(x["a"], approximate="tanh"), F.silu(x["a"]), x["a"].relu(), x["a"].erf(),
        x["a"].abs(), -x["a"], x["a"].sin(), x["a"].cos(), x["pos"].log1p(), x["a"].reciprocal(), x["a"].square(),
    ],
    "unary f64": lambda x: [x["a64"].exp(), x["a64"].tanh(), F.gelu(x["a64"]), F.silu(x["a64"]), x["a64"].erf()],
    "rounding": lambda x: [x["rounding"].round(), x["rounding"].floor(), x["rounding"].ceil(), x["rounding"].sign()],
    "special values": lambda x: [
        x["specials"].exp(), x["specials"].log(), x["specials"].sqrt(), x["specials"].isnan(), x["specials"].isfinite(),
        x["specials"].sign(), x["specials"].sigmoid(),
    ],
    "maximum and minimum propagate NaN": lambda x: [torch.maximum(x["nanA"], x["nanB"]), torch.minimum(x["nanA"], x["nanB"])],
    "clamp, maskedFill, where, lerp": lambda x: [
        x["a"].clamp(-0.5, 0.5), x["a"].clamp(min=0.1), x["a"].clamp(max=-0.2),
        x["a"].masked_fill(x["b"] > 0, -1.0), torch.where(x["a"] > x["b"], x["a"], x["c"]), torch.lerp(x["a"], x["b"], 0.3),
    ],
    "comparisons": lambda x: [x["a"] > x["b"], x["a"] <= 0.1, x["iv"] == 0, x["iv"] != x["jv"], x["a"] < x["c"], x["a"] >= 0],
    "logical": lambda x: [x["bv"] & (x["iv"] > 0), x["bv"] | (x["iv"] > 0), x["bv"] ^ (x["iv"] > 0), ~x["bv"]],
    "dtype conversions": lambda x: [
        x["rounding"].to(torch.int32), x["rounding"].to(torch.bool), x["a64"].to(torch.float32), x["iv"].to(torch.float32),
        x["pos"].mul(100).to(torch.uint8), x["jv"].to(torch.int8),
    ],
    # ---- half precision bytes ----
    "bf16 from f32 bytes": lambda x: [x["halves"].float().to(torch.bfloat16)],
    "f16 from f32 bytes": lambda x: [x["halves"].float().to(torch.float16)],
    "bf16 from JS numbers": lambda x: [torch.tensor(x["halves"].tolist(), dtype=torch.bfloat16)],
    "f16 from JS numbers": lambda x: [torch.tensor(x["halves"].tolist(), dtype=torch.float16)],
    "bf16 and f16 bytes to f32": lambda x: [
        torch.frombuffer(bytearray(x["raw16"].numpy().tobytes()), dtype=torch.bfloat16).float(),
        torch.frombuffer(bytearray(x["raw16"].numpy().tobytes()), dtype=torch.float16).float(),
    ],
    "bf16 arithmetic": lambda x: [(x["a"].bfloat16() * x["b"].bfloat16() + 1).float()],
    # ---- reductions ----
    "reductions f32": lambda x: [
        x["a"].sum(), x["a"].sum(1), x["a"].mean(0, keepdim=True), x["a"].max(), x["a"].min(),
        x["a"].logsumexp(1), x["a"].norm(), x["a"].norm(p=1, dim=1), x["a"].var(), x["a"].var(1, unbiased=False),
        x["a"].std(0), x["pos"].prod(), x["a"].cumsum(1), x["bv"].any(), x["bv"].all(),
    ],
    "reductions f64": lambda x: [x["a64"].sum(), x["a64"].mean(1), x["a64"].var(0), x["a64"].std(), x["a64"].norm(3, dim=[0, 1])],
    "max and min along a dim": lambda x: [*x["a"].max(1), *x["a"].min(0, keepdim=True)],
    "argmax and argmin": lambda x: [x["a"].argmax(1), x["a"].argmin(0), x["a"].argmax(0, keepdim=True)],
    "integer reductions promote to i64": lambda x: [x["jv"].sum(), x["jv"].cumsum(0), x["bv"].sum(), x["u8v"].sum(), x["iv"].prod()],
    "logsumexp with −inf": lambda x: [x["specials"][[0, 1, 3, 5]].logsumexp(0), torch.tensor([float("-inf")] * 3).logsumexp(0)],
    # ---- linear algebra ----
    "matmul": lambda x: [x["m"] @ x["n"], x["x3"] @ x["y3"], x["c"] @ x["a"].T, x["a64"] @ x["b64"].T],
    "bmm and addmm and outer": lambda x: [
        torch.bmm(x["x3"], x["y3"]), torch.addmm(x["bias3"], x["m"], x["n"], beta=0.5, alpha=2.0), torch.outer(x["c"], x["bias3"]),
    ],
    "linear": lambda x: [F.linear(x["x3"], x["w5"], x["b5"]), F.linear(x["a"], x["w5"])],
    "einsum": lambda x: [
        torch.einsum("ij,jk->ik", x["m"], x["n"]), torch.einsum("bij,bjk->bik", x["x3"], x["y3"]), torch.einsum("ii->", x["sq"]),
        torch.einsum("i,j->ij", x["c"], x["bias3"]), torch.einsum("bhqd,bhkd->bhqk", x["q"], x["k"]),
        torch.einsum("...ij->...ji", x["x3"]), torch.einsum("ij->j", x["a"]),
    ],
    # ---- network functions ----
    "softmax and logSoftmax": lambda x: [x["a"].softmax(-1), x["a"].softmax(0), x["x3"].log_softmax(1), x["specials"][[0, 1, 3, 5]].softmax(0)],
    "layerNorm": lambda x: [F.layer_norm(x["x3"], [4], x["lnw"], x["lnb"]), F.layer_norm(x["x3"], [3, 4]), F.layer_norm(x["a64"], [4], eps=1e-3)],
    "embedding": lambda x: [F.embedding(x["tok"], x["emb"])],
    "crossEntropy": lambda x: [
        F.cross_entropy(x["logits"], x["target2"]),
        F.cross_entropy(x["logits"], x["target"]),
        F.cross_entropy(x["logits"], x["target2"], ignore_index=2),
        F.cross_entropy(x["logits"], x["target2"], label_smoothing=0.1),
        F.cross_entropy(x["logits"], x["target"], label_smoothing=0.2),
        F.cross_entropy(x["logits"], x["target"], reduction="sum"),
        F.cross_entropy(x["logits"], x["target"], reduction="none"),
    ],
    "cosineSimilarity": lambda x: [F.cosine_similarity(x["a"], x["b"], dim=-1), F.cosine_similarity(x["a"], x["c"], dim=1), F.cosine_similarity(x["a"], x["b"], dim=0)],
    "scaledDotProductAttention": lambda x: [attention_reference(x["q"], x["k"], x["v"])],
    "scaledDotProductAttention causal": lambda x: [attention_reference(x["q"], x["k"], x["v"], causal=True)],
    "scaledDotProductAttention additive mask": lambda x: [attention_reference(x["q"], x["k"], x["v"], mask=x["amask"])],
    "scaledDotProductAttention boolean mask": lambda x: [attention_reference(x["q"], x["k"], x["v"], mask=x["bmask"])],
    "scaledDotProductAttention causal, fewer queries than keys": lambda x: [attention_reference(x["q2"], x["k"], x["v"], causal=True)],
    "scaledDotProductAttention one query (a decode step)": lambda x: [attention_reference(x["q1"], x["k"], x["v"])],
    "scaledDotProductAttention one query, causal": lambda x: [attention_reference(x["q1"], x["k"], x["v"], causal=True)],
    "scaledDotProductAttention one query, additive mask": lambda x: [attention_reference(x["q1"], x["k"], x["v"], mask=x["amask1"])],
    "scaledDotProductAttention one query, boolean mask": lambda x: [attention_reference(x["q1"], x["k"], x["v"], mask=x["bmask1"])],
    "scaledDotProductAttention causal and additive mask": lambda x: [attention_reference(x["q"], x["k"], x["v"], mask=x["amask"], causal=True)],
    "scaledDotProductAttention causal, 150 queries (in blocks)": lambda x: [
        attention_reference(x["qL"], x["kL"][:, :, :150], x["vL"][:, :, :150], causal=True),
    ],
    "scaledDotProductAttention causal, 150 queries, 170 keys (in blocks)": lambda x: [attention_reference(x["qL"], x["kL"], x["vL"], causal=True)],
    "attentionComposed causal, fewer queries than keys": lambda x: [attention_reference(x["q2"], x["k"], x["v"], causal=True)],
    "attentionComposed causal and additive mask": lambda x: [attention_reference(x["q"], x["k"], x["v"], mask=x["amask"], causal=True)],
    # ---- indexing ----
    "indexSelect, gather, index": lambda x: [
        x["a"].index_select(0, x["idx"]), x["a"].gather(1, x["gidx"]), x["a"][x["idx"]], x["a"][:, x["idx"]], x["a"][x["idx"], x["idx"]],
    ],
    "scatterAdd, scatter, indexAdd": lambda x: [
        x["a"].scatter_add(1, x["gidx"], x["src"]), x["a"].scatter(1, x["uidx"], x["src"]), x["a"].index_add(0, x["idx"], x["b"]),
    ],
    "indexPut": lambda x: [
        x["a"].index_put((x["idx"],), x["b"], accumulate=True), x["a"].index_put((x["idx"][:2],), x["b"][:2]),
        x["a"].index_put((x["idx"], x["idx"]), x["c"][:3], accumulate=True),
    ],
    "topk and sort": lambda x: [
        *x["seqv"].topk(3), *x["seqv"].topk(2, largest=False), *x["a"].sort(1, descending=True), *x["a"].sort(0),
    ],
    "triu and tril": lambda x: [x["m"].triu(), x["m"].triu(2), x["m"].tril(-1), x["m"].tril(1)],
    # ---- joining, splitting and views ----
    "cat and stack": lambda x: [torch.cat([x["a"], x["b"]], 0), torch.cat([x["a"], x["b"]], 1), torch.stack([x["a"], x["b"]], 1)],
    "split and chunk": lambda x: [*x["m"].split(2, 1), *x["m"].split([1, 3], 0), *x["m"].chunk(3, 1)],
    "views": lambda x: [
        x["x3"].reshape(4, -1), x["x3"].permute(2, 0, 1).contiguous(), x["x3"].transpose(0, 2), x["x3"].narrow(1, 1, 2),
        x["m"][:, ::2], x["m"][-3:], x["m"].select(0, -1), x["m"].flip(0, 1), x["a"].repeat(2, 1, 3),
        x["c"].unsqueeze(0).expand(3, 4), x["x3"].unsqueeze(1).squeeze(1), x["m"].T,
    ],
    # ---- creation ----
    "creation": lambda x: [
        torch.arange(0, 1, 0.1), torch.arange(5), torch.arange(-3, 7, 3), torch.eye(3, 4), torch.full((2, 2), 7.0),
        torch.full((2,), 7, dtype=torch.int64), torch.zeros(2, 3, dtype=torch.int32), torch.ones(2, dtype=torch.bool),
    ],
    # ---- random, seeded ----
    "randn seeded": lambda x: [torch.randn(7, generator=gen(0)), torch.randn(5, 3, generator=gen(42), dtype=torch.float64), torch.randn(33, generator=gen(1))],
    "rand seeded": lambda x: [torch.rand(20, generator=gen(7)), torch.rand(2, 3, generator=gen(8), dtype=torch.float64)],
    "randint seeded": lambda x: [torch.randint(-5, 5, (10,), generator=gen(3)), torch.randint(0, 1000, (4, 4), generator=gen(4), dtype=torch.int32)],
    "multinomial seeded": lambda x: [
        torch.multinomial(x["probs"], 3, replacement=False, generator=gen(5)),
        torch.multinomial(x["probs"], 10, replacement=True, generator=gen(6)),
        torch.multinomial(x["probs"][0], 4, generator=gen(7)),
    ],
    "normal_ uniform_ bernoulli seeded": lambda x: [
        torch.empty(6).normal_(2.0, 0.5, generator=gen(9)), torch.empty(6).uniform_(-1.0, 1.0, generator=gen(11)),
        torch.bernoulli(torch.zeros(12), 0.3, generator=gen(13)),
    ],
    "one generator, several draws": lambda x: same_generator_sequence_case(),
    "generator state bytes": lambda x: random_state_case(),
    "global seed": lambda x: global_seed_case(),
}


def main():
    inputs_path, outputs_path = sys.argv[1], sys.argv[2]
    with open(inputs_path) as f:
        x = {name: decode(entry) for name, entry in json.load(f)["tensors"].items()}
    out = {}
    for name, fn in CASES.items():
        try:
            out[name] = [encode(t) for t in fn(x)]
        except Exception as e:  # reported per case; the test fails that case with this message
            out[name] = {"error": f"{type(e).__name__}: {e}"}
    with open(outputs_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
