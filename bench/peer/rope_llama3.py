"""Peer for test/model/config.test.ts: RoPE inverse frequencies with Llama-3 scaling, computed with
torch the way transformers' `_compute_default_rope_parameters` + `_compute_llama3_parameters` do
(a re-implementation of the published formula; transformers itself is not installed here).

Usage: /usr/bin/python3 rope_llama3.py '[{"head_dim":64,"theta":500000,"factor":32,
        "low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192}, ...]'
Prints one {"float64": [...], "float32": [...]} per setting ([head_dim / 2] each; float32 is the
dtype transformers computes in).
"""
import json
import math
import sys

import torch


def llama3_inv_freq(p, dtype):
    dim = p["head_dim"]
    base = p["theta"]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim))

    factor = p["factor"]
    low_freq_factor = p["low_freq_factor"]
    high_freq_factor = p["high_freq_factor"]
    old_context_len = p["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor

    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


settings = json.loads(sys.argv[1])
print(json.dumps([
    {
        "float64": llama3_inv_freq(p, torch.float64).tolist(),
        "float32": llama3_inv_freq(p, torch.float32).tolist(),
    }
    for p in settings
]))
