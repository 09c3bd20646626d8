"""PyTorch side of `npm run bench -- sae`: the same SAE training steps and the same activation
harvesting as bench/sae.ts, on the same tensors, checkpoint and thread count. Benchmark fixture only.

usage:
  /usr/bin/python3 bench/peer/sae_bench.py serve THREADS    # answers requests on stdin (below)

`serve` reads one JSON request per line and writes one JSON reply per line, so that bench/sae.ts can
interleave its trials with this process's (both sides then see the same background load). THREADS sets
torch's pool and OpenBLAS's (basin sets both):
  {"op": "sae_load", "file": F, "architecture": "topk"|"jumprelu", "k": K|null,
   "rescale_acts_by_decoder_norm": bool, "lr": LR}
      load W_enc, b_enc, W_dec, b_dec, threshold? (the SAE basin initialised),
      x (the batch) and dead (bool [d_sae]) from the safetensors file F; torch.optim.AdamW (betas 0.9,
      0.999, eps 1e-8, weight decay 0) on the trained parameters; then reset the peak RSS -> {"base_rss_mb": RSS then}
  {"op": "sae_step", "step": N}
      one timed training step: zero_grad(set_to_none) -> sae_reference.sae_pass(training) ->
      sae_reference.loss_parts (mse + aux-k for topk, mse + L0 for jumprelu, the STE as
      autograd.Function) -> total.backward() -> optimizer.step() -> total.item()
      -> {"seconds", "cpu_seconds", "losses": {part: float}}
  {"op": "store_load", "model": DIR, "layer": L, "units": F, "train_batch_tokens": T, "capacity": C,
   "shuffle": bool, "seed": S}
      load the HF folder DIR (hf_model.DecoderLM, f32) and the units of F (JSON
      [{"ids": [[token ids] per conversation], "flat_index": [b * s + p of the selected positions]}],
      the conversations basin's store groups into one forward each); then reset the peak RSS -> {"base_rss_mb"}
  {"op": "store_pass"}
      one timed pass of the activation buffer, as basin's ActivationStore runs it: units in a
      (seeded) random order when shuffling; each unit one right-padded forward that stops after block
      L and reads its output (TransformerLens blocks.L.hook_resid_post: SAELens's run_with_cache with
      stop_at_layer), the selected rows index_select'ed; before a unit that would overflow the buffer
      (capacity C rows) the buffer is concatenated, permuted (torch.randperm) and batches of T rows
      are cloned off its front until it is at most half full and the unit fits; at the end the rest.
      -> {"seconds", "cpu_seconds", "rows", "batches", "sum", "sumsq" (f64 over every row handed out)}
  {"op": "peak"}  -> {"peak_rss_mb": VmHWM since the last load in MiB, or null}
A failed request answers {"error": "..."}. End of input ends the process.
"""

import ctypes
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_model  # noqa: E402
import sae_reference  # noqa: E402
import st  # noqa: E402

# SAELens's defaults, as basin's DEFAULT_SAE_TRAINING
SETTINGS = {
    "l1_coefficient": 1.0, "l1_warm_up_steps": 0, "aux_coefficient": 1.0, "l0_coefficient": 1.0,
    "l0_warm_up_steps": 0, "bandwidth": 0.05, "pre_act_coefficient": None, "threshold_lr": 0.01,
}


def rss_mb(field):
    """VmHWM / VmRSS in MiB, or None where /proc/self/status has none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := the current RSS
        return True
    except OSError:
        return False


class Server:
    def __init__(self):
        self.peak_reset = False
        self.sae = None
        self.store = None

    # -- SAE training step ---------------------------------------------------------------------------

    def sae_load(self, r):
        self.sae = self.store = None
        t = st.load_file(r["file"])
        x, dead = t.pop("x"), t.pop("dead").bool()
        cfg = {
            "architecture": r["architecture"], "apply_b_dec_to_input": True, "normalize_activations": "none",
            "norm_scaling_factor": None, "k": r["k"], "rescale_acts_by_decoder_norm": r["rescale_acts_by_decoder_norm"],
        }
        trained = ["W_enc", "b_enc", "W_dec", "b_dec"] + (["threshold"] if cfg["architecture"] == "jumprelu" else [])
        w = {name: t[name].clone().requires_grad_(name in trained) for name in t}
        optimizer = torch.optim.AdamW([w[n] for n in trained], lr=r["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        self.sae = {"w": w, "x": x, "dead": dead, "cfg": cfg, "optimizer": optimizer}
        self.peak_reset = reset_peak()
        return {"base_rss_mb": rss_mb("VmRSS")}

    def sae_step(self, r):
        s = self.sae
        cpu0, t0 = time.process_time(), time.perf_counter()
        s["optimizer"].zero_grad(set_to_none=True)
        p = sae_reference.sae_pass(s["x"], s["w"], s["cfg"], SETTINGS, training=True)
        parts = sae_reference.loss_parts(p, s["x"], s["w"], s["cfg"], SETTINGS, r["step"], s["dead"])
        parts["total"].backward()
        s["optimizer"].step()
        losses = {name: part.item() for name, part in parts.items()}
        t1, cpu1 = time.perf_counter(), time.process_time()
        del p, parts
        return {"seconds": t1 - t0, "cpu_seconds": cpu1 - cpu0, "losses": losses}

    # -- activation store ----------------------------------------------------------------------------

    def store_load(self, r):
        self.sae = self.store = None
        model = hf_model.DecoderLM.from_folder(r["model"], dtype=torch.float32)
        with open(r["units"], encoding="utf-8") as f:
            units = json.load(f)
        self.store = {"model": model, "layer": r["layer"], "units": units, "batch": r["train_batch_tokens"],
                      "capacity": r["capacity"], "shuffle": r["shuffle"], "seed": r["seed"], "pad": r.get("pad", 0)}
        self.peak_reset = reset_peak()
        return {"base_rss_mb": rss_mb("VmRSS")}

    @torch.inference_mode()
    def _harvest(self, unit):
        """[rows, d_model]: the output of block `layer` at the unit's selected positions."""
        s = self.store
        model = s["model"]
        convs = unit["ids"]
        width = max(len(c) for c in convs)
        ids = torch.tensor([c + [s["pad"]] * (width - len(c)) for c in convs], dtype=torch.int64)  # right-padded [b, width]
        mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in convs], dtype=torch.int64)
        positions = hf_model.positions_from_mask(mask)
        key_is_real = None if bool(mask.bool().all()) else mask.bool()
        causal_only = hf_model._HAS_SDPA and key_is_real is None
        attn_mask = None if causal_only else model._attention_mask(key_is_real, width, 0)
        x = model._embed(ids, positions)
        rotary = model._rotary(positions)
        for layer in range(s["layer"] + 1):  # stop after the hook's block
            x = model._block(model.blocks[layer], x, rotary, attn_mask, causal_only, None, layer, 0)
        flat = torch.tensor(unit["flat_index"], dtype=torch.int64)
        return x.reshape(-1, x.shape[-1]).index_select(0, flat)

    @torch.inference_mode()
    def store_pass(self, _r):
        s = self.store
        gen = torch.Generator().manual_seed(s["seed"])
        units, capacity, batch, shuffle = s["units"], s["capacity"], s["batch"], s["shuffle"]
        order = torch.randperm(len(units), generator=gen).tolist() if shuffle else list(range(len(units)))
        chunks = []
        held = 0
        stats = {"rows": 0, "batches": 0, "sum": 0.0, "sumsq": 0.0}

        def permute():
            if held == 0 or (not shuffle and len(chunks) == 1):
                return
            merged = chunks[0] if len(chunks) == 1 else torch.cat(chunks, 0)
            if shuffle:
                merged = merged.index_select(0, torch.randperm(merged.shape[0], generator=gen))
            chunks[:] = [merged]

        def take():
            first = chunks[0]
            out = first[:batch].clone()
            chunks[:] = [first[batch:]] if first.shape[0] > batch else []
            return out

        def consume(b):
            b64 = b.double()
            stats["rows"] += b.shape[0]
            stats["batches"] += 1
            stats["sum"] += float(b64.sum())
            stats["sumsq"] += float(b64.square().sum())

        cpu0, t0 = time.process_time(), time.perf_counter()
        for u in order:
            rows = len(units[u]["flat_index"])
            if held + rows > capacity:
                keep_at_most = min(capacity // 2, capacity - rows)
                permute()
                while held > keep_at_most:
                    b = take()
                    held -= b.shape[0]
                    consume(b)
            acts = self._harvest(units[u])
            chunks.append(acts)
            held += acts.shape[0]
        permute()
        while held > 0:
            b = take()
            held -= b.shape[0]
            consume(b)
        t1, cpu1 = time.perf_counter(), time.process_time()
        return {"seconds": t1 - t0, "cpu_seconds": cpu1 - cpu0, **stats}

    def handle(self, request):
        op = request.get("op")
        handlers = {"sae_load": self.sae_load, "sae_step": self.sae_step, "store_load": self.store_load,
                    "store_pass": self.store_pass}
        if op in handlers:
            return handlers[op](request)
        if op == "peak":
            return {"peak_rss_mb": rss_mb("VmHWM") if self.peak_reset else None}
        raise ValueError(f"unknown op '{op}'; known: {', '.join(handlers)}, peak")


def set_openblas_threads(threads):
    """OpenBLAS keeps its own pool (default: every core); basin sets it with its thread count, so
    the peer does too. Returns the OpenBLAS library it set, or None where none is mapped."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if line.split()[-1].startswith("/")}
    except OSError:
        return None
    for path in sorted(p for p in paths if "openblas" in os.path.basename(p)):
        try:
            ctypes.CDLL(path).openblas_set_num_threads(threads)
            return path
        except (OSError, AttributeError):
            continue
    return None


def serve(threads):
    torch.set_num_threads(threads)
    torch.ones(2, 2) @ torch.ones(2, 2)  # loads the BLAS, so that its pool can be set
    set_openblas_threads(threads)
    server = Server()
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
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
