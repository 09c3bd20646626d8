"""Reference LoRA fine-tune for basin's trainer: the same model, adapter, batches and hyper-parameters,
trained in PyTorch, printing the per-step loss curve that basin's metrics.jsonl is compared with.

A test/benchmark fixture, independent of basin: the forward is hf_model.py's DecoderLM with PEFT's LoRA
semantics added per module (y = W x + s * B (A x), s = lora_alpha / r or lora_alpha / sqrt(r) with rsLoRA,
no dropout), the adapter is read with peft_adapter.py, and the optimizer is torch.optim.AdamW.

usage: /usr/bin/python3 bench/peer/train_reference.py JOB.json [--save-adapter DIR]

JOB.json:
  model_dir, adapter_dir    an HF llama/qwen2 folder and a PEFT LoRA folder (the starting A, B)
  dtype                     "float32" | "float64" (the compute dtype of model and adapter)
  threads                   torch threads
  lr, betas [b1, b2], eps, weight_decay          torch.optim.AdamW's arguments
  schedule                  "constant" | "linear" | "cosine" (transformers' get_*_schedule_with_warmup)
  warmup_steps, max_grad_norm (0 = no clipping)
  steps                     a list, one entry per optimizer step, of micro-batches
                            {"ids": [B][T], "mask": [B][T] (1 real, 0 pad), "labels": [B][T-1] (-100 = no loss)}

Training semantics (what basin's trainer does, written from the usual PyTorch SFT loop):
  - step k (from 0) runs at lr * factor(k); factor is the linear warm-up then constant / linear / cosine decay.
  - each micro-batch's loss is the mean cross-entropy of logits[:, :-1] against labels over labels != -100;
    the step's gradient is the sum of (micro-batch loss / number of micro-batches) gradients, and the
    reported loss is the same average.
  - gradients are clipped with torch.nn.utils.clip_grad_norm_ (the reported grad_norm is the norm before
    clipping, as clip_grad_norm_ returns it); then AdamW steps.
  - right-padded batches: position ids count real tokens (0..n-1 for a row's n real tokens); real queries never
    see pad keys (hf_model's attention mask); pad positions carry label -100 and so no loss.

Prints one JSON line per optimizer step: {"step": k (from 1), "loss", "grad_norm", "lr"}. With --save-adapter the
trained A, B are written as a PEFT folder (keys base_model.model.<path>.lora_A.weight / lora_B.weight).

Public API (also used by train_bench.py):
    LoraDecoderLM.from_folders(model_dir, adapter_dir, dtype) -> LoraDecoderLM
    LoraDecoderLM.lora_parameters() -> [A0, B0, A1, B1, ...] (requires_grad, in module order)
    LoraDecoderLM.logits(input_ids [B,T], attention_mask [B,T] | None) -> [B, T, vocab] (with grad)
    sft_loss(model, input_ids, attention_mask, labels [B, T-1]) -> scalar
    lr_factor(kind, step, total_steps, warmup_steps) -> float
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_model  # noqa: E402
import peft_adapter  # noqa: E402
import st  # noqa: E402

# HF module names inside a llama/qwen2 block, in the model's module order.
ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def lr_factor(kind, step, total_steps, warmup_steps):
    """transformers' get_{constant,linear,cosine}_schedule_with_warmup multiplier at optimizer step `step` (from 0)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if kind == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    if kind == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    raise ValueError(f"schedule '{kind}' is not one of constant, linear, cosine")


class LoraDecoderLM(hf_model.DecoderLM):
    """hf_model.DecoderLM (llama / qwen2) with trainable LoRA pairs on any of q/k/v/o/gate/up/down.

    hf_model fuses q|k|v and gate|up into one matmul each; the LoRA deltas are added per module to the
    matching slice of the fused output, which is PEFT's `base_layer(x) + lora_B(lora_A(x)) * scaling`."""

    def attach_lora(self, pairs, scaling):
        """pairs: {module path: (A [r, in], B [out, r])}, paths like model.layers.0.self_attn.q_proj."""
        if self.spec.family == "gpt2":
            raise ValueError("LoraDecoderLM: gpt2 (fused Conv1D c_attn) is not supported; use a llama or qwen2 model")
        self.scaling = scaling
        self.lora = [dict() for _ in range(self.spec.n_layers)]
        self._lora_order = []
        known = {f"model.layers.{i}.{group}.{name}": (i, name)
                 for i in range(self.spec.n_layers)
                 for group, names in (("self_attn", ATTENTION_MODULES), ("mlp", MLP_MODULES)) for name in names}
        for path in pairs:
            if path not in known:
                raise ValueError(f"LoraDecoderLM: the adapter has {path}, which is not a q/k/v/o/gate/up/down module of this model")
        for path, (layer, name) in known.items():  # model order
            if path in pairs:
                A, B = pairs[path]
                A = A.to(device=self.device, dtype=self.dtype).clone().requires_grad_(True)
                B = B.to(device=self.device, dtype=self.dtype).clone().requires_grad_(True)
                self.lora[layer][name] = (A, B)
                self._lora_order.append((path, A, B))

    @classmethod
    def from_folders(cls, model_dir, adapter_dir, dtype=torch.float32, device="cpu"):
        model = cls.from_folder(model_dir, dtype=dtype, device=device)
        config, pairs = peft_adapter.read_adapter(adapter_dir)
        if config.get("lora_dropout", 0) not in (0, 0.0):
            raise ValueError(f"{adapter_dir}: lora_dropout {config['lora_dropout']}: this reference trains without dropout; set it to 0")
        model.attach_lora(pairs, peft_adapter.scaling_of(config))
        return model

    def lora_parameters(self):
        return [t for _, A, B in self._lora_order for t in (A, B)]

    def save_lora(self, out_dir, source_config_dir):
        """Writes the current A, B as a PEFT folder (adapter_config.json copied from source_config_dir)."""
        os.makedirs(out_dir, exist_ok=True)
        tensors = {}
        for path, A, B in self._lora_order:
            tensors[f"{peft_adapter.KEY_PREFIX}{path}.lora_A.weight"] = A.detach()
            tensors[f"{peft_adapter.KEY_PREFIX}{path}.lora_B.weight"] = B.detach()
        st.save_file(tensors, os.path.join(out_dir, peft_adapter.ADAPTER_WEIGHTS), metadata={"format": "pt"})
        with open(os.path.join(source_config_dir, peft_adapter.ADAPTER_CONFIG), encoding="utf-8") as f:
            text = f.read()
        with open(os.path.join(out_dir, peft_adapter.ADAPTER_CONFIG), "w", encoding="utf-8") as f:
            f.write(text)

    def _delta(self, layer, name, h):
        """s * B (A h) [..., out] for module `name` of block `layer`, or None when it has no adapter."""
        pair = self.lora[layer].get(name)
        if pair is None:
            return None
        A, B = pair
        return F.linear(F.linear(h, A), B) * self.scaling

    def _block(self, block, x, rotary, mask, causal_only, cache, layer, start):
        # hf_model.DecoderLM._block for llama/qwen2, with the LoRA deltas added.
        if cache is not None:
            raise ValueError("LoraDecoderLM: no KV cache (it is a training forward); use logits() on whole sequences")
        spec = self.spec
        batch, n_queries, _ = x.shape
        h = self._norm(x, block.ln1_w, block.ln1_b)
        q, k, v = F.linear(h, block.qkv_w, block.qkv_b).split(
            [spec.n_heads * spec.head_dim, spec.n_kv_heads * spec.head_dim, spec.n_kv_heads * spec.head_dim], dim=-1)
        q, k, v = (t if d is None else t + d for t, d in zip((q, k, v), (self._delta(layer, n, h) for n in ("q_proj", "k_proj", "v_proj"))))
        q = q.reshape(batch, n_queries, spec.n_heads, spec.head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = k.reshape(batch, n_queries, spec.n_kv_heads, spec.head_dim).transpose(1, 2)  # [B, Hkv, T, hd]
        v = v.reshape(batch, n_queries, spec.n_kv_heads, spec.head_dim).transpose(1, 2)
        cos, sin = rotary
        q = q * cos + hf_model._rotate_half(q) * sin
        k = k * cos + hf_model._rotate_half(k) * sin
        attn = self._attend(q, k, v, mask, causal_only)  # [B, H, T, hd]
        attn = attn.transpose(1, 2).reshape(batch, n_queries, spec.n_heads * spec.head_dim)
        out = F.linear(attn, block.o_w, block.o_b)
        d = self._delta(layer, "o_proj", attn)
        x = x + (out if d is None else out + d)

        h = self._norm(x, block.ln2_w, block.ln2_b)
        gate, up = F.linear(h, block.up_w, block.up_b).split(spec.d_mlp, dim=-1)
        d_gate, d_up = self._delta(layer, "gate_proj", h), self._delta(layer, "up_proj", h)
        gate = gate if d_gate is None else gate + d_gate
        up = up if d_up is None else up + d_up
        hidden = self._act(gate) * up
        down = F.linear(hidden, block.down_w, block.down_b)
        d = self._delta(layer, "down_proj", hidden)
        return x + (down if d is None else down + d)

    def logits(self, input_ids, attention_mask=None):
        """input_ids [B, T]; attention_mask [B, T] (1 real, 0 pad) or None (all real) -> logits [B, T, vocab], with grad."""
        key_is_real = None
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            key_is_real = attention_mask.bool()
        if attention_mask is not None:
            position_ids = hf_model.positions_from_mask(attention_mask)
        else:
            position_ids = torch.arange(input_ids.shape[1], device=self.device).expand(input_ids.shape[0], -1)
        normed, _, _ = self._run(input_ids, position_ids, key_is_real, None, 0, False)
        return F.linear(normed, self.lm_head)


def sft_loss(model, input_ids, attention_mask, labels):
    """Mean cross-entropy of logits[:, :-1] against labels [B, T-1] over labels != -100."""
    logits = model.logits(input_ids, attention_mask)
    vocab = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)


def train(job, model):
    """Runs the job's optimizer steps on model's LoRA parameters; yields one metrics dict per step."""
    params = model.lora_parameters()
    optimizer = torch.optim.AdamW(params, lr=job["lr"], betas=tuple(job["betas"]), eps=job["eps"],
                                  weight_decay=job["weight_decay"])
    steps = job["steps"]
    for k, micro_batches in enumerate(steps):
        lr = job["lr"] * lr_factor(job["schedule"], k, len(steps), job["warmup_steps"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for mb in micro_batches:
            ids = torch.tensor(mb["ids"], dtype=torch.long)
            mask = torch.tensor(mb["mask"], dtype=torch.long)
            labels = torch.tensor(mb["labels"], dtype=torch.long)
            loss = sft_loss(model, ids, mask, labels)
            (loss / len(micro_batches)).backward()
            total += loss.item() / len(micro_batches)
        if job["max_grad_norm"]:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, job["max_grad_norm"]))
        else:
            grad_norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in params if p.grad is not None))
        optimizer.step()
        yield {"step": k + 1, "loss": total, "grad_norm": grad_norm, "lr": lr}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", help="JOB.json (see the module docstring)")
    parser.add_argument("--save-adapter", help="write the trained adapter here (PEFT format)")
    args = parser.parse_args()
    with open(args.job, encoding="utf-8") as f:
        job = json.load(f)
    if job["dtype"] not in DTYPES:
        raise SystemExit(f"{args.job}: dtype '{job['dtype']}' is not one of {', '.join(DTYPES)}")
    torch.set_num_threads(int(job.get("threads", 1)))
    model = LoraDecoderLM.from_folders(job["model_dir"], job["adapter_dir"], dtype=DTYPES[job["dtype"]])
    for metrics in train(job, model):
        print(json.dumps(metrics), flush=True)
    if args.save_adapter:
        model.save_lora(args.save_adapter, job["adapter_dir"])


if __name__ == "__main__":
    main()
