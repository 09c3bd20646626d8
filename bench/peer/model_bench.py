"""PyTorch side of `npm run bench -- model`: the reference transformer (hf_model.py) on the same
random llama checkpoints, inputs and thread count as bench/model.ts. Benchmark fixture only.

usage:
  /usr/bin/python3 bench/peer/model_bench.py write DIR          # writes DIR/small, DIR/tiny (HF folders)
  /usr/bin/python3 bench/peer/model_bench.py serve DIR THREADS  # answers requests on stdin (below)

`serve` reads one JSON request per line and writes one JSON reply per line, so that bench/model.ts
can interleave its trials with this process's (both sides then see the same background load):
  {"op": "load", "config": "small"}  load DIR/small (f32), after resetting the peak RSS -> {}
  {"op": "run", "case": NAME}        one timed run of a case -> {"seconds": s, "tokens_row0": [...]}
  {"op": "peak"}                     -> {"peak_rss_mb": VmHWM since the last load in MiB, or null}
A failed request answers {"error": "..."}. End of input ends the process.

Cases, for a loaded config CFG:
  prefill_b{B}_s{S}_CFG  one forward over [B, S] tokens producing all logits [B, S, vocab]
  decode_b{B}_CFG        greedy generation of 64 new tokens after a 16-token prompt with the KV
                         cache; the time is the whole generate call (the prompt prefill included)
Inputs are a fixed formula (token i of the flattened batch = (i * 7919 + 13) % vocab), which
bench/model.ts reproduces; tokens_row0 (decode only) lets it check both sides compute the same.

The peer is the fair PyTorch implementation: torch.inference_mode (DecoderLM.forward/generate),
a preallocated KV cache written in place, q/k/v and gate/up fused into one matmul each, only the
last position's logits per decode step.
"""

import json
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_model  # noqa: E402
import st  # noqa: E402

# name -> (d_model, layers, heads, d_mlp, vocab)
CONFIGS = {
    "small": (512, 8, 8, 1536, 32000),
    "tiny": (256, 4, 4, 768, 4096),
}
PROMPT_LEN, NEW_TOKENS = 16, 64
SEED = 1234


def input_ids(batch, length, vocab):
    """[batch, length] int64: token i of the flattened batch is (i * 7919 + 13) % vocab."""
    flat = (torch.arange(batch * length, dtype=torch.int64) * 7919 + 13) % vocab
    return flat.view(batch, length)


def write_checkpoint(folder, d_model, layers, heads, d_mlp, vocab, seed):
    """A random llama HF folder (f32). Matrices have std 1/sqrt(fan_in) (lm_head twice that) so the
    logits are spread and greedy tokens are well separated; norm weights are 1."""
    g = torch.Generator().manual_seed(seed)

    def matrix(rows, cols, gain=1.0):
        return torch.randn(rows, cols, generator=g) * (gain / cols ** 0.5)

    w = {"model.embed_tokens.weight": torch.randn(vocab, d_model, generator=g)}
    for i in range(layers):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = torch.ones(d_model)
        for name in ("q", "k", "v", "o"):
            w[p + f"self_attn.{name}_proj.weight"] = matrix(d_model, d_model)
        w[p + "post_attention_layernorm.weight"] = torch.ones(d_model)
        w[p + "mlp.gate_proj.weight"] = matrix(d_mlp, d_model)
        w[p + "mlp.up_proj.weight"] = matrix(d_mlp, d_model)
        w[p + "mlp.down_proj.weight"] = matrix(d_model, d_mlp)
    w["model.norm.weight"] = torch.ones(d_model)
    w["lm_head.weight"] = matrix(vocab, d_model, gain=2.0)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": d_model, "intermediate_size": d_mlp, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": heads, "vocab_size": vocab,
        "max_position_embeddings": 2048, "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    st.save_file(w, os.path.join(folder, st.SINGLE_FILE), metadata={"format": "pt"})


def peak_rss_mb():
    """VmHWM in MiB, or None where /proc/self/status has none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Server:
    def __init__(self, root):
        self.root = root
        self.model = None
        self.peak_reset = False
        self.config = None
        self.cases = {}  # name -> callable returning the reply without the time

    def load(self, config):
        if config not in CONFIGS:
            raise ValueError(f"unknown config '{config}'; known: {', '.join(CONFIGS)}")
        self.model = self.cases = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            self.peak_reset = True
        except OSError:
            self.peak_reset = False
        self.model = hf_model.DecoderLM.from_folder(os.path.join(self.root, config), dtype=torch.float32)
        self.config, self.cases = config, {}
        return {}

    def case(self, name):
        if name not in self.cases:
            self.cases[name] = self._make_case(name)
        return self.cases[name]

    def _make_case(self, name):
        vocab = CONFIGS[self.config][4] if self.config else None
        model = self.model
        m = re.fullmatch(r"prefill_b(\d+)_s(\d+)_(\w+)", name)
        if m and m.group(3) == self.config:
            ids = input_ids(int(m.group(1)), int(m.group(2)), vocab)

            def prefill():
                model.forward(ids, output_hidden_states=False)  # logits [B, S, vocab], then freed
                return {}
            return prefill
        m = re.fullmatch(r"decode_b(\d+)_(\w+)", name)
        if m and m.group(2) == self.config:
            prompt = input_ids(int(m.group(1)), PROMPT_LEN, vocab)
            sampling = hf_model.Sampling(greedy=True)
            return lambda: {"tokens_row0": model.generate(prompt, None, NEW_TOKENS, sampling=sampling)[0].tolist()}
        raise ValueError(f"unknown case '{name}' for the loaded config '{self.config}'; load its config first")

    def handle(self, request):
        op = request.get("op")
        if op == "load":
            return self.load(request.get("config"))
        if op == "run":
            fn = self.case(request.get("case"))
            t0 = time.perf_counter()
            reply = fn()
            reply["seconds"] = time.perf_counter() - t0
            return reply
        if op == "peak":
            return {"peak_rss_mb": peak_rss_mb() if self.peak_reset else None}
        raise ValueError(f"unknown op '{op}'; known: load, run, peak")


def serve(root, threads):
    torch.set_num_threads(threads)
    server = Server(root)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = server.handle(json.loads(line))
        except Exception as error:  # the error goes back to the caller, which reports it
            reply = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        for i, (cfg, dims) in enumerate(CONFIGS.items()):
            write_checkpoint(os.path.join(sys.argv[2], cfg), *dims, seed=SEED + i)
    elif len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
