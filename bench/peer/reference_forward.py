"""Run the reference forward (or generation) of an HF model folder and print JSON.

usage:
  /usr/bin/python3 bench/peer/reference_forward.py DIR --tokens JSON [--attention-mask JSON]
        [--position-ids JSON] [--dtype f32|bf16] [--threads N] [--device D] [--logits-only] [--out FILE]
  /usr/bin/python3 bench/peer/reference_forward.py DIR --tokens JSON --generate N
        [--greedy | --sample [--temperature T] [--top-k K] [--top-p P] [--seed S]]
        [--no-cache] [--eos ID] [--pad-id ID] [--repeat R] [--dtype ...] [--threads N] [--device D] [--out FILE]

--tokens (and the other JSON options) take JSON text, or @FILE to read it from a file. A flat list
is a batch of one. Rows of different lengths are left-padded with --pad-id and get a mask (zeros
on the left) unless --attention-mask is given, which then must match a rectangular --tokens.

Forward output: {family, dtype, threads, input_ids, attention_mask, position_ids, logits [B][T][V],
hidden_states [n_layers+1][B][T][d], last_block_pre_norm [B][T][d]} where hidden_states follows HF:
[0] embeddings, [L+1] the output of block L, except the last entry, which has the final norm applied.
blocks.{L}.hook_resid_post = hidden_states[L+1] for L < n_layers-1, last_block_pre_norm for the last
block. Values at pad positions (mask 0) have no meaning; compare real positions only.

Generate output: {tokens [B][n] (new tokens only), input_ids, attention_mask, seconds_load,
seconds_generate [per repeat], new_tokens_per_second (batch * n / fastest repeat), threads, ...}.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_model  # noqa: E402

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def parse_json_arg(text, what):
    try:
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as f:
                return json.load(f)
        return json.loads(text)
    except (OSError, ValueError) as error:
        raise SystemExit(f"{what}: cannot read JSON ({error}); pass JSON text or @FILE")


def batch_inputs(tokens, mask, pad_id):
    """(input_ids [B,T], attention_mask [B,T]) from the parsed --tokens / --attention-mask."""
    if tokens and not isinstance(tokens[0], list):
        tokens = [tokens]
        if mask is not None and mask and not isinstance(mask[0], list):
            mask = [mask]
    if not tokens or any(len(row) == 0 for row in tokens):
        raise SystemExit("--tokens: every row needs at least one token")
    width = max(len(row) for row in tokens)
    if mask is None:
        mask = [[0] * (width - len(row)) + [1] * len(row) for row in tokens]
        tokens = [[pad_id] * (width - len(row)) + row for row in tokens]
    elif any(len(row) != width for row in tokens) or [len(r) for r in mask] != [len(r) for r in tokens]:
        raise SystemExit("--attention-mask: give it only with rectangular --tokens of the same shape")
    return torch.tensor(tokens, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    parser = argparse.ArgumentParser(description="Reference forward / generation for HF llama, qwen2, gpt2 folders")
    parser.add_argument("model_dir")
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--attention-mask")
    parser.add_argument("--position-ids")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--logits-only", action="store_true", help="omit hidden_states and last_block_pre_norm")
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    parser.add_argument("--generate", type=int, metavar="N", help="generate N new tokens instead of a forward")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--greedy", action="store_true", help="argmax decoding (the default)")
    mode.add_argument("--sample", action="store_true", help="sample with temperature / top-k / top-p")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cache", action="store_true", help="recompute the whole prefix every step")
    parser.add_argument("--eos", type=int, help="eos token id: finished rows continue with --pad-id")
    parser.add_argument("--pad-id", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="run generation R times and time each")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    tokens = parse_json_arg(args.tokens, "--tokens")
    mask = parse_json_arg(args.attention_mask, "--attention-mask") if args.attention_mask else None
    input_ids, attention_mask = batch_inputs(tokens, mask, args.pad_id)

    started = time.perf_counter()
    model = hf_model.DecoderLM.from_folder(args.model_dir, dtype=DTYPES[args.dtype], device=args.device)
    seconds_load = time.perf_counter() - started
    result = {
        "model_dir": os.path.abspath(args.model_dir),
        "family": model.spec.family,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "torch": torch.__version__,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
    }

    if args.generate is not None:
        sampling = hf_model.Sampling(greedy=not args.sample, temperature=args.temperature,
                                     top_k=args.top_k, top_p=args.top_p)
        seconds = []
        for _ in range(max(1, args.repeat)):
            generator = torch.Generator(device=model.device).manual_seed(args.seed)
            synchronize(model.device)
            started = time.perf_counter()
            new_tokens = model.generate(input_ids, attention_mask, args.generate, sampling=sampling,
                                        eos_token_id=args.eos, pad_token_id=args.pad_id,
                                        use_cache=not args.no_cache, generator=generator)
            synchronize(model.device)
            seconds.append(time.perf_counter() - started)
        result.update({
            "tokens": new_tokens.tolist(),
            "sampling": {"greedy": sampling.greedy, "temperature": sampling.temperature, "top_k": sampling.top_k,
                         "top_p": sampling.top_p, "seed": args.seed},
            "use_cache": not args.no_cache,
            "seconds_load": seconds_load,
            "seconds_generate": seconds,
            "new_tokens_per_second": new_tokens.numel() / min(seconds) if new_tokens.numel() else 0.0,
        })
    else:
        position_ids = None
        if args.position_ids:
            position_ids = torch.tensor(parse_json_arg(args.position_ids, "--position-ids"), dtype=torch.long)
            position_ids = position_ids.reshape(input_ids.shape)
        out = model.forward(input_ids, attention_mask, position_ids, output_hidden_states=not args.logits_only)
        result["position_ids"] = out.position_ids.tolist()
        result["logits"] = out.logits.float().tolist()
        if not args.logits_only:
            result["hidden_states"] = [h.float().tolist() for h in out.hidden_states]
            result["last_block_pre_norm"] = out.last_block_pre_norm.float().tolist()

    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
