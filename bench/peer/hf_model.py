"""Reference decoder-only forward and KV-cache generation for HF `llama`, `qwen2` and `gpt2` folders.

A benchmark/test fixture for basin: an independent PyTorch implementation of what Hugging Face
transformers computes, written from the HF semantics (not copied code). torch >= 1.13 + numpy only.

HF semantics mirrored here (transformers 4.4x-5.x):
  llama / qwen2
    - hidden_states[0] = embed_tokens(ids) (no scaling).
    - block: x = x + o_proj(attn(input_layernorm(x))); x = x + down_proj(act(gate_proj(h)) * up_proj(h)),
      h = post_attention_layernorm(x).
    - RMSNorm: computed in float32, cast back to the input dtype, then multiplied by the weight.
    - RoPE: inv_freq = 1 / theta^(arange(0, head_dim, 2) / head_dim) in float32 (rope types default,
      linear, llama3 as in `_compute_llama3_parameters`); cos/sin of cat(freqs, freqs) computed in
      float32 then cast to the model dtype; rotate_half pairs dimension i with i + head_dim/2.
    - attention scale head_dim^-0.5; softmax in float32, cast back; grouped-query attention maps
      query head h to kv head h // (n_heads / n_kv_heads).
    - qwen2: q/k/v have biases, o_proj has none. llama: `attention_bias` puts biases on q/k/v/o,
      `mlp_bias` on gate/up/down.
    - lm_head = embed_tokens when tie_word_embeddings (llama and qwen2 default false).
  gpt2
    - hidden_states[0] = wte(ids) + wpe(positions).
    - block: x = x + c_proj(attn(ln_1(x))); x = x + mlp.c_proj(act(mlp.c_fc(ln_2(x)))), LayerNorm eps
      layer_norm_epsilon, act = activation_function (gelu_new: the tanh formula).
    - Conv1D weights are stored [in, out] (y = x @ W + b); they are transposed once at load into the
      nn.Linear layout [out, in]. c_attn's output splits into q | k | v of n_embd each.
    - weight names with or without the `transformer.` prefix; lm_head is always wte when
      tie_word_embeddings (the default).
  both
    - hidden_states has n_layers + 1 entries: [0] is the embedding output, [i] for 1 <= i < n_layers is
      the output of block i-1, and the LAST entry is the output of the last block AFTER the final norm
      (model.norm / ln_f): HF appends last_hidden_state, not the raw block output. So resid_post of
      block L (TransformerLens `blocks.{L}.hook_resid_post`) is hidden_states[L+1] for L < n_layers-1,
      and `last_block_pre_norm` for L = n_layers-1. `ForwardOutput.resid_post(L)` does this.
    - padding: position_ids = cumsum(attention_mask) - 1 with pads set to 1, as HF `generate` builds
      them (a bare HF `model(ids, attention_mask=m)` call uses 0..T-1 instead; pass position_ids to get
      that). Real queries never see pad keys. Outputs at pad positions carry no meaning in HF; here a
      pad query attends only to itself, which keeps them finite and deterministic.
    - logits in the model dtype (newer HF does not upcast); generation samples from float32 logits.

Attention kernel: torch >= 2.0 uses F.scaled_dot_product_attention (what HF's default "sdpa" path
calls). torch 1.13 has only the private `torch.nn.functional._scaled_dot_product_attention` (bool
masks only, fixed scale); measured on this CPU it was 1.6-2x slower than plain matmul + softmax for
prefill and within noise for decode, so 1.13 uses the explicit matmul path (HF's "eager" math).
Decode folds each kv group's query heads into the query axis, so the cache is never repeated.

Public API:
    DecoderLM.from_folder(folder, dtype=torch.float32, device="cpu") -> DecoderLM
    DecoderLM.forward(input_ids [B,T], attention_mask [B,T] | None, position_ids [B,T] | None,
                      output_hidden_states=True) -> ForwardOutput
    DecoderLM.generate(input_ids [B,T], attention_mask [B,T] | None, max_new_tokens, sampling=Sampling(),
                       eos_token_id=None, pad_token_id=0, use_cache=True, generator=None) -> LongTensor [B, n<=max_new_tokens]
    Sampling(greedy=True, temperature=1.0, top_k=0, top_p=1.0);  choose_next_token(logits [B,V], sampling, generator) -> [B]
    ForwardOutput.resid_post(layer) -> [B,T,d_model]  (needs output_hidden_states=True)
    positions_from_mask(attention_mask [B,T]) -> LongTensor [B,T]
    spec_from_config(config: dict) -> ModelSpec;  rope_inv_freq(config: dict, head_dim) -> (inv_freq [head_dim/2], scaling)
"""

import json
import math
import os
import sys
from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

FAMILIES = ("llama", "qwen2", "gpt2")
_HAS_SDPA = hasattr(F, "scaled_dot_product_attention")  # public API from torch 2.0


# ----------------------------------------------------------------------------------------------------
# config


@dataclass(frozen=True)
class ModelSpec:
    family: str  # "llama" | "qwen2" | "gpt2"
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_mlp: int
    vocab_size: int
    norm_eps: float
    act: str  # HF ACT2FN name
    tie_word_embeddings: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    max_positions: Optional[int]  # gpt2 learned positions (n_positions); None for rotary models


def _require(config, key, family):
    if key not in config or config[key] is None:
        raise ValueError(f"config.json: '{key}' is required for model_type '{family}'; add it to the config")
    return config[key]


def spec_from_config(config):
    """ModelSpec from a parsed HF config.json, with HF's defaults for optional keys."""
    family = config.get("model_type")
    if family not in FAMILIES:
        raise ValueError(f"config.json: model_type '{family}' is not supported; use one of {', '.join(FAMILIES)}")
    if family == "gpt2":
        d_model = int(_require(config, "n_embd", family))
        n_heads = int(_require(config, "n_head", family))
        if d_model % n_heads:
            raise ValueError(f"config.json: n_head ({n_heads}) must divide n_embd ({d_model})")
        if not config.get("scale_attn_weights", True) or config.get("scale_attn_by_inverse_layer_idx", False):
            raise ValueError("config.json: only scale_attn_weights=true, scale_attn_by_inverse_layer_idx=false is supported")
        return ModelSpec(
            family=family, d_model=d_model, n_layers=int(_require(config, "n_layer", family)),
            n_heads=n_heads, n_kv_heads=n_heads, head_dim=d_model // n_heads,
            d_mlp=int(config.get("n_inner") or 4 * d_model), vocab_size=int(_require(config, "vocab_size", family)),
            norm_eps=float(config.get("layer_norm_epsilon", 1e-5)), act=config.get("activation_function", "gelu_new"),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", True)),
            qkv_bias=True, o_bias=True, mlp_bias=True, max_positions=int(_require(config, "n_positions", family)),
        )
    d_model = int(_require(config, "hidden_size", family))
    n_heads = int(_require(config, "num_attention_heads", family))
    n_kv_heads = int(config.get("num_key_value_heads") or n_heads)
    if n_heads % n_kv_heads:
        raise ValueError(f"config.json: num_key_value_heads ({n_kv_heads}) must divide num_attention_heads ({n_heads})")
    if family == "qwen2" and config.get("use_sliding_window", False):
        raise ValueError("config.json: use_sliding_window=true is not supported by this reference; set it to false")
    attention_bias = bool(config.get("attention_bias", False))
    return ModelSpec(
        family=family, d_model=d_model, n_layers=int(_require(config, "num_hidden_layers", family)),
        n_heads=n_heads, n_kv_heads=n_kv_heads, head_dim=int(config.get("head_dim") or d_model // n_heads),
        d_mlp=int(_require(config, "intermediate_size", family)), vocab_size=int(_require(config, "vocab_size", family)),
        norm_eps=float(config.get("rms_norm_eps", 1e-6)), act=config.get("hidden_act", "silu"),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        qkv_bias=family == "qwen2" or attention_bias, o_bias=family == "llama" and attention_bias,
        mlp_bias=family == "llama" and bool(config.get("mlp_bias", False)), max_positions=None,
    )


def _rope_settings(config):
    """(rope_type, theta, params) from either `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling`."""
    params = config.get("rope_parameters")
    if params is not None:
        theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    else:
        params = config.get("rope_scaling") or {}
        theta = config.get("rope_theta", 10000.0)
    rope_type = params.get("rope_type", params.get("type", "default"))  # "type" is the pre-4.43 key
    return rope_type, float(theta), params


def rope_inv_freq(config, head_dim):
    """Rotary inverse frequencies [head_dim/2] (float32) and the cos/sin scaling factor, as HF computes them."""
    rope_type, theta, params = _rope_settings(config)
    partial = params.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0))
    if partial != 1.0:
        raise ValueError(f"config.json: partial_rotary_factor {partial} is not supported; only 1.0")
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if rope_type == "default":
        return inv_freq, 1.0
    if rope_type == "linear":
        return inv_freq / float(params["factor"]), 1.0
    if rope_type == "llama3":
        factor = float(params["factor"])
        low_freq_factor = float(params["low_freq_factor"])
        high_freq_factor = float(params["high_freq_factor"])
        old_context = float(params["original_max_position_embeddings"])
        wavelen = 2 * math.pi / inv_freq
        # long wavelengths (> old_context / low_freq_factor) are slowed by `factor`, short ones
        # (< old_context / high_freq_factor) kept, and the band between blends the two linearly in old_context / wavelen
        slowed = torch.where(wavelen > old_context / low_freq_factor, inv_freq / factor, inv_freq)
        blend = (old_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        blended = (1 - blend) * slowed / factor + blend * slowed
        in_band = (wavelen >= old_context / high_freq_factor) & (wavelen <= old_context / low_freq_factor)
        return torch.where(in_band, blended, slowed), 1.0
    raise ValueError(f"config.json: rope type '{rope_type}' is not supported by this reference; supported: default, linear, llama3")


# ----------------------------------------------------------------------------------------------------
# small pieces


def _gelu_new(x):
    # HF NewGELUActivation, the tanh approximation written out as GPT-2 did
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


_ACTIVATIONS = {
    "silu": F.silu,
    "swish": F.silu,
    "gelu": F.gelu,
    "gelu_new": _gelu_new,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def _rms_norm(x, weight, eps):
    # [..., d]: float32 statistics, cast back, then scale (HF LlamaRMSNorm / Qwen2RMSNorm)
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def positions_from_mask(attention_mask):
    """[B,T] position ids for a (left-)padded batch: cumsum(mask) - 1, pads set to 1 (HF generate)."""
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 1)


@dataclass
class Block:
    """One layer's weights, all in nn.Linear layout [out, in]; q/k/v (and gate/up) fused along `out`."""
    ln1_w: torch.Tensor
    ln1_b: Optional[torch.Tensor]
    qkv_w: torch.Tensor  # [(n_heads + 2 n_kv_heads) * head_dim, d_model]
    qkv_b: Optional[torch.Tensor]
    o_w: torch.Tensor  # [d_model, n_heads * head_dim]
    o_b: Optional[torch.Tensor]
    ln2_w: torch.Tensor
    ln2_b: Optional[torch.Tensor]
    up_w: torch.Tensor  # llama/qwen2: [2 d_mlp, d_model] = gate | up;  gpt2: c_fc [d_mlp, d_model]
    up_b: Optional[torch.Tensor]
    down_w: torch.Tensor  # [d_model, d_mlp]
    down_b: Optional[torch.Tensor]


class KVCache:
    """Preallocated keys/values per layer, [B, n_kv_heads, capacity, head_dim]; filled left to right."""

    def __init__(self, spec, batch, capacity, dtype, device):
        shape = (batch, spec.n_kv_heads, capacity, spec.head_dim)
        self.keys = [torch.empty(shape, dtype=dtype, device=device) for _ in range(spec.n_layers)]
        self.values = [torch.empty(shape, dtype=dtype, device=device) for _ in range(spec.n_layers)]
        self.capacity = capacity


@dataclass
class ForwardOutput:
    logits: torch.Tensor  # [B, T, vocab] (model dtype)
    hidden_states: Optional[List[torch.Tensor]]  # n_layers + 1 x [B, T, d_model]; last entry has the final norm applied
    last_block_pre_norm: torch.Tensor  # [B, T, d_model] output of the last block before the final norm
    position_ids: torch.Tensor  # [B, T]

    def resid_post(self, layer):
        """TransformerLens blocks.{layer}.hook_resid_post [B, T, d_model]."""
        if layer == len(self.hidden_states) - 2:
            return self.last_block_pre_norm
        return self.hidden_states[layer + 1]


@dataclass(frozen=True)
class Sampling:
    """Next-token choice. greedy=True: argmax (first index on ties). Otherwise HF's warper order:
    temperature, then top-k (keep logits >= k-th largest), then top-p (drop the smallest tokens whose
    cumulative probability is <= 1 - top_p, always keeping the most likely), then multinomial."""
    greedy: bool = True
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0


def choose_next_token(logits, sampling, generator=None):
    """logits [B, vocab] -> token ids [B]."""
    scores = logits.float()
    if sampling.greedy:
        return scores.argmax(-1)
    if sampling.temperature <= 0:
        raise ValueError(f"Sampling: temperature ({sampling.temperature}) must be > 0; use greedy=True for argmax")
    scores = scores / sampling.temperature
    if sampling.top_k > 0:
        kth_largest = torch.topk(scores, min(sampling.top_k, scores.shape[-1]), dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth_largest, float("-inf"))
    if sampling.top_p < 1.0:
        ascending, order = torch.sort(scores, dim=-1)
        cumulative = ascending.softmax(-1).cumsum(-1)
        drop_sorted = cumulative <= 1 - sampling.top_p
        drop_sorted[..., -1] = False
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    return torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(-1)


# ----------------------------------------------------------------------------------------------------
# the model


class DecoderLM:
    def __init__(self, spec, config, weights, dtype=torch.float32, device="cpu"):
        """weights: HF names -> tensors (as st.load_folder returns); converted to `dtype` on `device`."""
        self.spec = spec
        self.dtype = dtype
        self.device = torch.device(device)
        self._act = _ACTIVATIONS.get(spec.act)
        if self._act is None:
            raise ValueError(f"config.json: activation '{spec.act}' is not supported; use one of {', '.join(_ACTIVATIONS)}")

        def take(name, transpose=False):
            if name not in weights:
                sample = ", ".join(sorted(weights)[:6])
                raise KeyError(f"weights: '{name}' is missing (the files hold e.g. {sample}); check the folder and model_type")
            tensor = weights[name]
            if transpose:
                tensor = tensor.t()
            return tensor.to(device=self.device, dtype=dtype).contiguous()

        def maybe(name, present):
            return take(name) if present else None

        if spec.family == "gpt2":
            self._load_gpt2(weights, take)
        else:
            self._load_rotary(config, take, maybe)

    @classmethod
    def from_folder(cls, folder, dtype=torch.float32, device="cpu"):
        config_path = os.path.join(folder, "config.json")
        if not os.path.exists(config_path):
            raise FileNotFoundError(f"{folder}: no config.json; point at an HF model folder")
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        return cls(spec_from_config(config), config, st.load_folder(folder), dtype=dtype, device=device)

    def _load_rotary(self, config, take, maybe):
        spec = self.spec
        self.embed = take("model.embed_tokens.weight")  # [vocab, d_model]
        self.pos_embed = None
        self.final_w, self.final_b = take("model.norm.weight"), None
        self.lm_head = self.embed if spec.tie_word_embeddings else take("lm_head.weight")
        inv_freq, self.rope_scaling = rope_inv_freq(config, spec.head_dim)
        self.inv_freq = inv_freq.to(self.device)  # [head_dim/2] float32
        self.blocks = []
        for i in range(spec.n_layers):
            p = f"model.layers.{i}."
            q, k, v = (f"{p}self_attn.{n}_proj" for n in "qkv")
            qkv_b = None
            if spec.qkv_bias:
                qkv_b = torch.cat([take(q + ".bias"), take(k + ".bias"), take(v + ".bias")])
            self.blocks.append(Block(
                ln1_w=take(p + "input_layernorm.weight"), ln1_b=None,
                qkv_w=torch.cat([take(q + ".weight"), take(k + ".weight"), take(v + ".weight")]), qkv_b=qkv_b,
                o_w=take(p + "self_attn.o_proj.weight"), o_b=maybe(p + "self_attn.o_proj.bias", spec.o_bias),
                ln2_w=take(p + "post_attention_layernorm.weight"), ln2_b=None,
                up_w=torch.cat([take(p + "mlp.gate_proj.weight"), take(p + "mlp.up_proj.weight")]),
                up_b=torch.cat([take(p + "mlp.gate_proj.bias"), take(p + "mlp.up_proj.bias")]) if spec.mlp_bias else None,
                down_w=take(p + "mlp.down_proj.weight"), down_b=maybe(p + "mlp.down_proj.bias", spec.mlp_bias),
            ))

    def _load_gpt2(self, weights, take):
        spec = self.spec
        prefix = "transformer." if "transformer.wte.weight" in weights else ""
        self.embed = take(prefix + "wte.weight")  # [vocab, d_model]
        self.pos_embed = take(prefix + "wpe.weight")  # [n_positions, d_model]
        self.final_w, self.final_b = take(prefix + "ln_f.weight"), take(prefix + "ln_f.bias")
        if spec.tie_word_embeddings:
            self.lm_head = self.embed
        else:
            self.lm_head = take("lm_head.weight")
        self.inv_freq = None
        self.blocks = []
        for i in range(spec.n_layers):
            p = f"{prefix}h.{i}."
            self.blocks.append(Block(  # Conv1D [in, out] -> Linear [out, in]
                ln1_w=take(p + "ln_1.weight"), ln1_b=take(p + "ln_1.bias"),
                qkv_w=take(p + "attn.c_attn.weight", transpose=True), qkv_b=take(p + "attn.c_attn.bias"),
                o_w=take(p + "attn.c_proj.weight", transpose=True), o_b=take(p + "attn.c_proj.bias"),
                ln2_w=take(p + "ln_2.weight"), ln2_b=take(p + "ln_2.bias"),
                up_w=take(p + "mlp.c_fc.weight", transpose=True), up_b=take(p + "mlp.c_fc.bias"),
                down_w=take(p + "mlp.c_proj.weight", transpose=True), down_b=take(p + "mlp.c_proj.bias"),
            ))

    # -- pieces of the forward ---------------------------------------------------------------------

    def _norm(self, x, weight, bias):
        if self.spec.family == "gpt2":
            return F.layer_norm(x, (self.spec.d_model,), weight, bias, self.spec.norm_eps)
        return _rms_norm(x, weight, self.spec.norm_eps)

    def _embed(self, input_ids, position_ids):
        x = F.embedding(input_ids, self.embed)  # [B, T, d_model]
        if self.pos_embed is not None:
            x = x + F.embedding(position_ids, self.pos_embed)
        return x

    def _check_positions(self, last_position):
        if self.spec.max_positions is not None and last_position >= self.spec.max_positions:
            raise ValueError(f"gpt2: position {last_position} exceeds n_positions - 1 ({self.spec.max_positions - 1}); shorten the input")

    def _rotary(self, position_ids):
        """cos, sin [B, 1, T, head_dim] in the model dtype, or None for gpt2."""
        if self.inv_freq is None:
            return None
        freqs = position_ids.float()[..., None] * self.inv_freq  # [B, T, head_dim/2] float32
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = (angles.cos() * self.rope_scaling).to(self.dtype)
        sin = (angles.sin() * self.rope_scaling).to(self.dtype)
        return cos[:, None], sin[:, None]

    def _attention_mask(self, key_is_real, n_queries, start):
        """Additive mask [B|1, 1, T, S] (0 keep, -inf drop) for queries at start..start+T-1 over keys 0..S-1.
        Query i sees key j when j <= start+i and (key j is real or j is the query itself). None if nothing is masked."""
        n_keys = start + n_queries
        if key_is_real is None and n_queries == 1:
            return None
        query_pos = torch.arange(start, n_keys, device=self.device)[:, None]  # [T, 1]
        key_pos = torch.arange(n_keys, device=self.device)[None, :]  # [1, S]
        keep = (key_pos <= query_pos)[None]  # [1, T, S]
        if key_is_real is not None:
            keep = keep & (key_is_real[:, None, :] | (key_pos == query_pos)[None])  # [B, T, S]
        mask = torch.zeros(keep.shape, dtype=self.dtype, device=self.device)
        return mask.masked_fill_(~keep, float("-inf"))[:, None]

    def _attend(self, q, k, v, mask, causal_only):
        """q [B, H, T, hd], k/v [B, Hkv, S, hd] -> [B, H, T, hd]. `causal_only`: mask is the plain causal one (T == S)."""
        batch, n_heads, n_queries, head_dim = q.shape
        n_rep = n_heads // k.shape[1]
        if n_rep > 1 and n_queries == 1:
            # decode: fold the query heads of each kv group into the query axis, no copy of the cache
            out = self._attention_kernel(q.reshape(batch, k.shape[1], n_rep, head_dim), k, v, mask, False)
            return out.reshape(batch, n_heads, 1, head_dim)
        if n_rep > 1:
            k = k[:, :, None].expand(-1, -1, n_rep, -1, -1).reshape(batch, n_heads, -1, head_dim)
            v = v[:, :, None].expand(-1, -1, n_rep, -1, -1).reshape(batch, n_heads, -1, head_dim)
        return self._attention_kernel(q, k, v, mask, causal_only)

    def _attention_kernel(self, q, k, v, mask, causal_only):
        if _HAS_SDPA:
            if causal_only:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)  # [B, H, T, S]
        if mask is not None:
            scores = scores + mask
        probs = scores.softmax(-1, dtype=torch.float32).to(q.dtype)
        return torch.matmul(probs, v)

    def _block(self, block, x, rotary, mask, causal_only, cache, layer, start):
        spec = self.spec
        batch, n_queries, _ = x.shape
        h = self._norm(x, block.ln1_w, block.ln1_b)
        q, k, v = F.linear(h, block.qkv_w, block.qkv_b).split(
            [spec.n_heads * spec.head_dim, spec.n_kv_heads * spec.head_dim, spec.n_kv_heads * spec.head_dim], dim=-1)
        q = q.view(batch, n_queries, spec.n_heads, spec.head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = k.view(batch, n_queries, spec.n_kv_heads, spec.head_dim).transpose(1, 2)  # [B, Hkv, T, hd]
        v = v.view(batch, n_queries, spec.n_kv_heads, spec.head_dim).transpose(1, 2)
        if rotary is not None:
            cos, sin = rotary
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
        if cache is not None:
            end = start + n_queries
            cache.keys[layer][:, :, start:end] = k
            cache.values[layer][:, :, start:end] = v
            k, v = cache.keys[layer][:, :, :end], cache.values[layer][:, :, :end]  # views, no copy
        attn = self._attend(q, k, v, mask, causal_only)  # [B, H, T, hd]
        attn = attn.transpose(1, 2).reshape(batch, n_queries, spec.n_heads * spec.head_dim)
        x = x + F.linear(attn, block.o_w, block.o_b)

        h = self._norm(x, block.ln2_w, block.ln2_b)
        up = F.linear(h, block.up_w, block.up_b)
        if spec.family == "gpt2":
            hidden = self._act(up)
        else:
            gate, up = up.split(spec.d_mlp, dim=-1)
            hidden = self._act(gate) * up
        return x + F.linear(hidden, block.down_w, block.down_b)

    def _run(self, input_ids, position_ids, key_is_real, cache, start, collect):
        """The decoder body. Returns (final-normed [B, T, d], last block output [B, T, d], hidden states or None)."""
        x = self._embed(input_ids, position_ids)
        rotary = self._rotary(position_ids)
        n_queries = input_ids.shape[1]
        mask = None
        causal_only = _HAS_SDPA and key_is_real is None and start == 0 and n_queries > 1
        if not causal_only:
            mask = self._attention_mask(key_is_real, n_queries, start)
        hidden = [x] if collect else None
        for layer, block in enumerate(self.blocks):
            x = self._block(block, x, rotary, mask, causal_only, cache, layer, start)
            if collect and layer < len(self.blocks) - 1:
                hidden.append(x)
        normed = self._norm(x, self.final_w, self.final_b)
        if collect:
            hidden.append(normed)
        return normed, x, hidden

    # -- public ------------------------------------------------------------------------------------

    @torch.inference_mode()
    def forward(self, input_ids, attention_mask=None, position_ids=None, output_hidden_states=True):
        """input_ids [B, T]; attention_mask [B, T] (1 real, 0 pad; any pattern); position_ids [B, T]
        (default: from the mask as HF generate builds them, else 0..T-1)."""
        input_ids = input_ids.to(self.device)
        key_is_real = None
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.device)
            if not bool(attention_mask.bool().all()):
                key_is_real = attention_mask.bool()
        if position_ids is None:
            if attention_mask is not None:
                position_ids = positions_from_mask(attention_mask)
            else:
                position_ids = torch.arange(input_ids.shape[1], device=self.device).expand(input_ids.shape[0], -1)
        position_ids = position_ids.to(self.device)
        self._check_positions(int(position_ids.max()))
        normed, pre_norm, hidden = self._run(input_ids, position_ids, key_is_real, None, 0, output_hidden_states)
        logits = F.linear(normed, self.lm_head)
        return ForwardOutput(logits=logits, hidden_states=hidden, last_block_pre_norm=pre_norm, position_ids=position_ids)

    @torch.inference_mode()
    def generate(self, input_ids, attention_mask=None, max_new_tokens=16, sampling=Sampling(), eos_token_id=None,
                 pad_token_id=0, use_cache=True, generator=None):
        """New tokens [B, n] for a left-padded batch, n <= max_new_tokens (fewer when every row hit eos).
        After a row emits eos_token_id it continues with pad_token_id, as HF does."""
        input_ids = input_ids.to(self.device)
        batch, prompt_len = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.to(self.device).bool()
        if not bool(mask[:, -1].all()) or bool((mask[:, 1:] < mask[:, :-1]).any()):
            raise ValueError("generate: attention_mask must be left-padded (zeros then ones, last column all ones); pad on the left")
        self._check_positions(int(mask.long().sum(-1).max()) + max(max_new_tokens, 1) - 2)  # last position fed
        finished = torch.zeros(batch, dtype=torch.bool, device=self.device)
        stop_on_eos = eos_token_id is not None
        produced = []

        if use_cache:
            capacity = prompt_len + max_new_tokens
            cache = KVCache(self.spec, batch, capacity, self.dtype, self.device)
            has_padding = not bool(mask.all())
            key_is_real = torch.ones(batch, capacity, dtype=torch.bool, device=self.device)
            key_is_real[:, :prompt_len] = mask
            normed, _, _ = self._run(input_ids, positions_from_mask(mask), key_is_real[:, :prompt_len] if has_padding else None,
                                     cache, 0, False)
            next_position = mask.long().sum(-1, keepdim=True)  # [B, 1]
            for step in range(max_new_tokens):
                logits = F.linear(normed[:, -1], self.lm_head)  # [B, vocab]: only the last position is needed
                token = self._pick(logits, sampling, generator, finished, eos_token_id, pad_token_id)
                produced.append(token)
                if step == max_new_tokens - 1 or (stop_on_eos and bool(finished.all())):
                    break
                start = prompt_len + step
                normed, _, _ = self._run(token[:, None], next_position, key_is_real[:, :start + 1] if has_padding else None,
                                         cache, start, False)
                next_position = next_position + 1
        else:
            ids, grown_mask = input_ids, mask.long()
            for step in range(max_new_tokens):
                logits = self.forward(ids, grown_mask, output_hidden_states=False).logits[:, -1]
                token = self._pick(logits, sampling, generator, finished, eos_token_id, pad_token_id)
                produced.append(token)
                if step == max_new_tokens - 1 or (stop_on_eos and bool(finished.all())):
                    break
                ids = torch.cat([ids, token[:, None]], dim=1)
                grown_mask = torch.cat([grown_mask, torch.ones_like(token)[:, None]], dim=1)
        if not produced:
            return torch.empty(batch, 0, dtype=torch.long, device=self.device)
        return torch.stack(produced, dim=1)

    def _pick(self, logits, sampling, generator, finished, eos_token_id, pad_token_id):
        token = choose_next_token(logits, sampling, generator)
        if eos_token_id is None:
            return token
        token = token.masked_fill(finished, pad_token_id)
        finished |= token == eos_token_id
        return token
