"""PyTorch side of `npm run bench -- train`: one LoRA fine-tuning optimizer step on a random ~60M-parameter
llama, the same checkpoint, batch and thread count as bench/train.ts. Benchmark fixture only.

usage:
  /usr/bin/python3 bench/peer/train_bench.py write DIR          # writes the HF folder DIR (f32, random weights)
  /usr/bin/python3 bench/peer/train_bench.py run DIR THREADS    # one JSON line for case lora_step

The model: llama, d_model 512, 8 layers, 8 heads (head_dim 64), MLP 1536, vocab 32000, untied lm_head
(~60M parameters). The step: LoRA r=16, alpha=32 on q/k/v/o/gate/up/down of every layer (PEFT's
`base_layer(x) + lora_B(lora_A(x)) * scaling`, A kaiming-uniform, B zero, no dropout), forward over a
[8, 256] batch of real tokens, mean cross-entropy of logits[:, :-1] against the next tokens, backward,
torch.optim.AdamW (lr 1e-4, weight decay 0) on the LoRA parameters only, and loss.item() (the trainer reads
it). Input token i of the flattened batch is (i * 7919 + 13) % vocab, which bench/train-ours.ts reproduces.

Output: {"case": "lora_step", "unit": "ms", "value": median step time over TIMED steps after WARMUP steps,
"forward_ms", "backward_ms", "optimizer_ms" (medians of each phase; forward includes the loss), "cpu_ms" (median
process CPU time per step, user + system, all threads: less sensitive than wall time to other load on the machine),
"peak_mib": VmHWM of this process, reset (clear_refs 5) after the model is loaded, i.e. the peak resident
memory while training, "loss0": the first step's loss (B = 0, so it is the base model's loss and must
equal basin's), "trainable": number of LoRA parameters}.
"""

import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import train_reference  # noqa: E402

D_MODEL, LAYERS, HEADS, D_MLP, VOCAB = 512, 8, 8, 1536, 32000
BATCH, LENGTH = 8, 256
R, ALPHA = 16, 32
LR = 1e-4
WARMUP, TIMED = 2, 5
SEED = 1234
MODULES = (("self_attn", "q_proj"), ("self_attn", "k_proj"), ("self_attn", "v_proj"), ("self_attn", "o_proj"),
           ("mlp", "gate_proj"), ("mlp", "up_proj"), ("mlp", "down_proj"))


def input_ids():
    """[BATCH, LENGTH] int64: token i of the flattened batch is (i * 7919 + 13) % VOCAB."""
    flat = (torch.arange(BATCH * LENGTH, dtype=torch.int64) * 7919 + 13) % VOCAB
    return flat.view(BATCH, LENGTH)


def write_model(folder):
    """A random llama HF folder (f32): HF's init (normal std 0.02 matrices and embeddings, unit norms)."""
    g = torch.Generator().manual_seed(SEED)

    def normal(*shape):
        return torch.randn(*shape, generator=g) * 0.02

    w = {"model.embed_tokens.weight": normal(VOCAB, D_MODEL)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = torch.ones(D_MODEL)
        w[p + "post_attention_layernorm.weight"] = torch.ones(D_MODEL)
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            w[p + f"self_attn.{name}.weight"] = normal(D_MODEL, D_MODEL)
        w[p + "mlp.gate_proj.weight"] = normal(D_MLP, D_MODEL)
        w[p + "mlp.up_proj.weight"] = normal(D_MLP, D_MODEL)
        w[p + "mlp.down_proj.weight"] = normal(D_MODEL, D_MLP)
    w["model.norm.weight"] = torch.ones(D_MODEL)
    w["lm_head.weight"] = normal(VOCAB, D_MODEL)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D_MODEL,
        "intermediate_size": D_MLP, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS, "vocab_size": VOCAB, "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    st.save_file(w, os.path.join(folder, st.SINGLE_FILE), metadata={"format": "pt"})


def lora_pairs():
    """{module path: (A [R, in] kaiming-uniform U(+-1/sqrt(in)), B [out, R] zeros)}, PEFT's default init."""
    g = torch.Generator().manual_seed(SEED + 1)
    pairs = {}
    for i in range(LAYERS):
        for group, name in MODULES:
            fan_in = D_MLP if name == "down_proj" else D_MODEL
            fan_out = D_MLP if name in ("gate_proj", "up_proj") else D_MODEL
            A = (torch.rand(R, fan_in, generator=g) * 2 - 1) / math.sqrt(fan_in)
            pairs[f"model.layers.{i}.{group}.{name}"] = (A, torch.zeros(fan_out, R))
    return pairs


def peak_mib():
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak():
    with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
        f.write("5")


def run(folder, threads):
    torch.set_num_threads(threads)
    model = train_reference.LoraDecoderLM.from_folder(folder)
    model.attach_lora(lora_pairs(), ALPHA / R)
    params = model.lora_parameters()
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
    ids = input_ids()
    labels = ids[:, 1:].contiguous()
    reset_peak()

    phases = {"step": [], "forward": [], "backward": [], "optimizer": [], "cpu": []}
    loss0 = None
    for k in range(WARMUP + TIMED):
        cpu0, t0 = time.process_time(), time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = train_reference.sft_loss(model, ids, None, labels)
        value = loss.item()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3, cpu3 = time.perf_counter(), time.process_time()
        if loss0 is None:
            loss0 = value
        if k >= WARMUP:
            for name, seconds in (("step", t3 - t0), ("forward", t1 - t0), ("backward", t2 - t1), ("optimizer", t3 - t2), ("cpu", cpu3 - cpu0)):
                phases[name].append(seconds * 1e3)
    median = {name: statistics.median(v) for name, v in phases.items()}
    print(json.dumps({
        "case": "lora_step", "unit": "ms", "value": median["step"], "forward_ms": median["forward"],
        "backward_ms": median["backward"], "optimizer_ms": median["optimizer"], "cpu_ms": median["cpu"], "peak_mib": peak_mib(),
        "loss0": loss0, "trainable": sum(p.numel() for p in params),
    }), flush=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write_model(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main()
