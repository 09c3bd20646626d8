"""Write random-initialised tiny HF model folders (config.json + model.safetensors) for tests and benchmarks.

usage: /usr/bin/python3 bench/peer/make_tiny_models.py OUTDIR [--bf16] [--seed N]

Writes OUTDIR/llama, OUTDIR/llama3rope, OUTDIR/qwen2, OUTDIR/gpt2 (and OUTDIR/<name>-bf16 with --bf16:
the same weights rounded to bfloat16, torch_dtype "bfloat16"). Sizes: d_model 64, 2 layers, 4 heads
(2 kv heads for llama/qwen2), head_dim 16, vocab 128, mlp 96; gpt2 has 64 learned positions.

The weights are not HF's init (std 0.02): matrices have std ~ 1/sqrt(fan_in) with q/k twice that, so
attention is sharp and logits are spread; norm weights are drawn from [0.5, 1.5] and biases have std
0.1. That way a wrong position, mask, norm, bias or weight layout changes the outputs visibly.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

D_MODEL, N_LAYERS, N_HEADS, N_KV_HEADS, HEAD_DIM, VOCAB, D_MLP = 64, 2, 4, 2, 16, 128, 96
GPT2_POSITIONS = 64
EMBED_STD = 0.3  # small next to the blocks' writes (gain OUT_GAIN), so tied heads do not just echo the input token
OUT_GAIN = 3.0


class Init:
    def __init__(self, seed):
        self.generator = torch.Generator().manual_seed(seed)

    def matrix(self, rows, cols, gain=1.0):  # [rows, cols], std gain / sqrt(cols)
        return torch.randn(rows, cols, generator=self.generator) * (gain / cols ** 0.5)

    def norm(self, n):
        return 0.5 + torch.rand(n, generator=self.generator)

    def bias(self, n):
        return 0.1 * torch.randn(n, generator=self.generator)

    def embedding(self, rows, cols):
        return EMBED_STD * torch.randn(rows, cols, generator=self.generator)


def rotary_weights(init, *, qkv_bias, tied):
    """HF llama/qwen2 weight names -> tensors ([out, in] for Linear)."""
    w = {"model.embed_tokens.weight": init.embedding(VOCAB, D_MODEL)}
    for i in range(N_LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = init.norm(D_MODEL)
        w[p + "self_attn.q_proj.weight"] = init.matrix(N_HEADS * HEAD_DIM, D_MODEL, gain=2.0)
        w[p + "self_attn.k_proj.weight"] = init.matrix(N_KV_HEADS * HEAD_DIM, D_MODEL, gain=2.0)
        w[p + "self_attn.v_proj.weight"] = init.matrix(N_KV_HEADS * HEAD_DIM, D_MODEL)
        w[p + "self_attn.o_proj.weight"] = init.matrix(D_MODEL, N_HEADS * HEAD_DIM, gain=OUT_GAIN)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = init.bias(N_HEADS * HEAD_DIM)
            w[p + "self_attn.k_proj.bias"] = init.bias(N_KV_HEADS * HEAD_DIM)
            w[p + "self_attn.v_proj.bias"] = init.bias(N_KV_HEADS * HEAD_DIM)
        w[p + "post_attention_layernorm.weight"] = init.norm(D_MODEL)
        w[p + "mlp.gate_proj.weight"] = init.matrix(D_MLP, D_MODEL)
        w[p + "mlp.up_proj.weight"] = init.matrix(D_MLP, D_MODEL)
        w[p + "mlp.down_proj.weight"] = init.matrix(D_MODEL, D_MLP, gain=OUT_GAIN)
    w["model.norm.weight"] = init.norm(D_MODEL)
    if not tied:
        w["lm_head.weight"] = init.matrix(VOCAB, D_MODEL, gain=2.0)
    return w


def gpt2_weights(init):
    """HF gpt2 weight names (no `transformer.` prefix, as in the original checkpoint); Conv1D is [in, out]."""
    w = {"wte.weight": init.embedding(VOCAB, D_MODEL), "wpe.weight": init.embedding(GPT2_POSITIONS, D_MODEL)}
    for i in range(N_LAYERS):
        p = f"h.{i}."
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = init.norm(D_MODEL), init.bias(D_MODEL)
        qk = init.matrix(2 * D_MODEL, D_MODEL, gain=2.0)
        v = init.matrix(D_MODEL, D_MODEL)
        w[p + "attn.c_attn.weight"] = torch.cat([qk, v]).t().contiguous()  # [in, 3 out]
        w[p + "attn.c_attn.bias"] = init.bias(3 * D_MODEL)
        w[p + "attn.c_proj.weight"] = init.matrix(D_MODEL, D_MODEL, gain=OUT_GAIN).t().contiguous()
        w[p + "attn.c_proj.bias"] = init.bias(D_MODEL)
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = init.norm(D_MODEL), init.bias(D_MODEL)
        w[p + "mlp.c_fc.weight"] = init.matrix(D_MLP, D_MODEL).t().contiguous()
        w[p + "mlp.c_fc.bias"] = init.bias(D_MLP)
        w[p + "mlp.c_proj.weight"] = init.matrix(D_MODEL, D_MLP, gain=OUT_GAIN).t().contiguous()
        w[p + "mlp.c_proj.bias"] = init.bias(D_MODEL)
    w["ln_f.weight"], w["ln_f.bias"] = init.norm(D_MODEL), init.bias(D_MODEL)
    return w


def rotary_config(model_type, **extra):
    config = {
        "architectures": ["Qwen2ForCausalLM" if model_type == "qwen2" else "LlamaForCausalLM"],
        "model_type": model_type,
        "hidden_size": D_MODEL,
        "intermediate_size": D_MLP,
        "num_hidden_layers": N_LAYERS,
        "num_attention_heads": N_HEADS,
        "num_key_value_heads": N_KV_HEADS,
        "head_dim": HEAD_DIM,
        "vocab_size": VOCAB,
        "max_position_embeddings": 512,
        "hidden_act": "silu",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }
    config.update(extra)
    return config


def models(seed):
    """name -> (config, weights)."""
    return {
        "llama": (
            rotary_config("llama", rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None, attention_bias=False,
                          mlp_bias=False, tie_word_embeddings=False),
            rotary_weights(Init(seed), qkv_bias=False, tied=False),
        ),
        # llama3 rope with original_max_position_embeddings 64 so that, with head_dim 16, the short
        # (unchanged), band (blended) and long (divided by factor) wavelengths all occur at short lengths
        "llama3rope": (
            rotary_config("llama", rms_norm_eps=1e-5, rope_theta=10000.0, attention_bias=False, mlp_bias=False,
                          tie_word_embeddings=True,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
            rotary_weights(Init(seed + 1), qkv_bias=False, tied=True),
        ),
        "qwen2": (
            rotary_config("qwen2", rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                          use_sliding_window=False, sliding_window=512, max_window_layers=N_LAYERS),
            rotary_weights(Init(seed + 2), qkv_bias=True, tied=True),
        ),
        "gpt2": (
            {
                "architectures": ["GPT2LMHeadModel"],
                "model_type": "gpt2",
                "n_embd": D_MODEL,
                "n_layer": N_LAYERS,
                "n_head": N_HEADS,
                "n_inner": D_MLP,
                "n_positions": GPT2_POSITIONS,
                "n_ctx": GPT2_POSITIONS,
                "vocab_size": VOCAB,
                "layer_norm_epsilon": 1e-5,
                "activation_function": "gelu_new",
                "scale_attn_weights": True,
                "tie_word_embeddings": True,
                "bos_token_id": 1,
                "eos_token_id": 2,
                "torch_dtype": "float32",
            },
            gpt2_weights(Init(seed + 3)),
        ),
    }


def write_folder(folder, config, weights):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    st.save_file(weights, os.path.join(folder, st.SINGLE_FILE), metadata={"format": "pt"})


def write_tiny_models(out_dir, seed=0, bf16=False):
    """Write the folders; returns name -> folder path."""
    written = {}
    for name, (config, weights) in models(seed).items():
        written[name] = os.path.join(out_dir, name)
        write_folder(written[name], config, weights)
        if bf16:
            written[name + "-bf16"] = os.path.join(out_dir, name + "-bf16")
            write_folder(written[name + "-bf16"], {**config, "torch_dtype": "bfloat16"},
                         {k: v.to(torch.bfloat16) for k, v in weights.items()})
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--bf16", action="store_true", help="also write <name>-bf16 copies")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, folder in write_tiny_models(args.out_dir, args.seed, args.bf16).items():
        print(f"{name}: {folder}")


if __name__ == "__main__":
    main()
