"""Write PEFT-format LoRA adapters for tiny HF models, and run the reference forward with one applied.

A test fixture for basin, independent of it: the adapter folder is what PEFT's `save_pretrained` writes
for a LoRA on `LlamaForCausalLM` / `Qwen2ForCausalLM` / `GPT2LMHeadModel`, and the forward applies the
LoRA math on top of hf_model.py by merging W' = W + s * B @ A into a copy of the weights.

usage:
  /usr/bin/python3 bench/peer/peft_adapter.py write DIR_MODEL OUT_ADAPTER --r R --alpha A [--rslora]
        [--targets q_proj,v_proj | --target-regex RE | --all-linear] [--layers 0,1] [--dropout P] [--seed S]
  /usr/bin/python3 bench/peer/peft_adapter.py forward DIR_MODEL ADAPTER --tokens JSON [--out FILE]
  /usr/bin/python3 bench/peer/peft_adapter.py batch JOBS.json
        (a JSON list of argument lists, each a `write` or `forward` command: one torch start-up for all)

PEFT semantics mirrored here (peft 0.10-0.14):
  - module paths are the HF module names under the task model: llama/qwen2 `model.layers.{i}.self_attn.q_proj`,
    `...k_proj|v_proj|o_proj`, `model.layers.{i}.mlp.gate_proj|up_proj|down_proj`, `lm_head`; gpt2
    `transformer.h.{i}.attn.c_attn|c_proj`, `transformer.h.{i}.mlp.c_fc|c_proj`, `lm_head`.
  - target_modules: a list matches a module whose path equals a name or ends with `.name`; a string is a
    regex that must match the whole path (re.fullmatch); "all-linear" is every Linear/Conv1D but the output
    layer, and is saved as the sorted list of the matched modules' last names.
  - layers_to_transform (list targets only): the layer index is the number in `<anything>.<name>.<digits>.`
    (regex `.*\\.[^.]*\\.(\\d+)\\.`, PEFT's rule when layers_pattern is unset).
  - keys `base_model.model.<module path>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r], also for
    gpt2's Conv1D (which stores its weight [in, out]; PEFT sets fan_in_fan_out and transposes B @ A when
    merging). scaling s = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora.
  - adapter_config.json is written with sorted keys and indent 2, as PEFT does.

The written A ~ N(0, 1/in) and B ~ N(0, 0.01/r) are both non-zero (PEFT initialises B = 0), so the
adapter changes the outputs by roughly 0.1 * s of the base layer's output.

Forward output JSON: {family, scaling, modules [paths], input_ids, logits [B][T][V]}.
"""

import argparse
import json
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_model  # noqa: E402
import st  # noqa: E402

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
KEY_PREFIX = "base_model.model."
GPT2_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
ROTARY_LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
LAYER_INDEX = re.compile(r".*\.[^.]*\.(\d+)\.")


def read_model_folder(model_dir):
    """(config dict, weights dict as stored on disk)."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    return config, st.load_folder(model_dir)


def gpt2_weight_key(weights, path):
    """The on-disk key of a gpt2 module's weight (checkpoints may lack the `transformer.` prefix)."""
    key = path + ".weight"
    if key in weights or not path.startswith("transformer."):
        return key
    return key[len("transformer."):]


def linear_modules(config, weights):
    """[(module path, in_features, out_features, is_conv1d)] of every Linear/Conv1D module, in model order.
    lm_head is listed even when tied to the embeddings (the module exists in HF)."""
    spec = hf_model.spec_from_config(config)
    modules = []
    if spec.family == "gpt2":
        for i in range(spec.n_layers):
            for name in GPT2_CONV1D:
                path = f"transformer.h.{i}.{name}"
                fan_in, fan_out = weights[gpt2_weight_key(weights, path)].shape  # Conv1D [in, out]
                modules.append((path, fan_in, fan_out, True))
    else:
        for i in range(spec.n_layers):
            for name in ROTARY_LINEARS:
                path = f"model.layers.{i}.{name}"
                fan_out, fan_in = weights[path + ".weight"].shape  # Linear [out, in]
                modules.append((path, fan_in, fan_out, False))
    modules.append(("lm_head", spec.d_model, spec.vocab_size, False))
    return modules


def in_layers(path, layers_to_transform):
    """PEFT's layers_to_transform filter without layers_pattern (None keeps every module)."""
    if layers_to_transform is None:
        return True
    match = LAYER_INDEX.match(path)
    return match is not None and int(match.group(1)) in layers_to_transform


def is_targeted(path, target_modules, layers_to_transform):
    """PEFT's check_target_module_exists for list / regex targets (no layers_pattern)."""
    if isinstance(target_modules, str):
        found = re.fullmatch(target_modules, path) is not None
    else:
        found = any(path == name or path.endswith("." + name) for name in target_modules)
    return found and in_layers(path, layers_to_transform)


def number(text):
    """An int when integral (PEFT configs hold e.g. "lora_alpha": 16), else a float."""
    value = float(text)
    return int(value) if value.is_integer() else value


def scaling_of(config):
    r, alpha = config["r"], config["lora_alpha"]
    return alpha / math.sqrt(r) if config.get("use_rslora", False) else alpha / r


def write_adapter(args):
    config, weights = read_model_folder(args.model_dir)
    family = config["model_type"]
    modules = linear_modules(config, weights)
    layers = [int(x) for x in args.layers.split(",")] if args.layers else None
    if args.all_linear:
        chosen = [m for m in modules if m[0] != "lm_head" and in_layers(m[0], layers)]
        target_modules = sorted({m[0].rsplit(".", 1)[-1] for m in chosen})
    elif args.target_regex:
        if layers is not None:
            raise SystemExit("write: --layers needs --targets (PEFT rejects layers_to_transform with a regex target)")
        target_modules = args.target_regex
        chosen = [m for m in modules if is_targeted(m[0], target_modules, None)]
    else:
        target_modules = sorted(args.targets.split(","))
        chosen = [m for m in modules if is_targeted(m[0], target_modules, layers)]
    if not chosen:
        raise SystemExit(f"write: target_modules {target_modules!r} matched no module of this {family} model; "
                         f"module paths look like {', '.join(m[0] for m in modules[:3])}")

    generator = torch.Generator().manual_seed(args.seed)
    tensors = {}
    for path, fan_in, fan_out, _ in chosen:
        tensors[f"{KEY_PREFIX}{path}.lora_A.weight"] = torch.randn(args.r, fan_in, generator=generator) / math.sqrt(fan_in)
        tensors[f"{KEY_PREFIX}{path}.lora_B.weight"] = torch.randn(fan_out, args.r, generator=generator) * (0.1 / math.sqrt(args.r))
    adapter_config = {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": os.path.abspath(args.model_dir),
        "bias": "none",
        "fan_in_fan_out": family == "gpt2",
        "inference_mode": True,
        "init_lora_weights": True,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": layers,
        "loftq_config": {},
        "lora_alpha": args.alpha,
        "lora_dropout": args.dropout,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": args.r,
        "rank_pattern": {},
        "revision": None,
        "target_modules": target_modules,
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": args.rslora,
    }
    os.makedirs(args.out_adapter, exist_ok=True)
    st.save_file(tensors, os.path.join(args.out_adapter, ADAPTER_WEIGHTS), metadata={"format": "pt"})
    with open(os.path.join(args.out_adapter, ADAPTER_CONFIG), "w", encoding="utf-8") as f:
        f.write(json.dumps(adapter_config, indent=2, sort_keys=True))
    print(json.dumps({"adapter": args.out_adapter, "modules": [m[0] for m in chosen], "target_modules": target_modules}))


def read_adapter(adapter_dir):
    """(adapter config, {module path: (A [r, in], B [out, r])})."""
    with open(os.path.join(adapter_dir, ADAPTER_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("peft_type") != "LORA" or config.get("use_dora", False):
        raise SystemExit(f"{adapter_dir}: only plain LoRA adapters are supported (peft_type LORA, use_dora false)")
    pairs = {}
    for key, tensor in st.load_file(os.path.join(adapter_dir, ADAPTER_WEIGHTS)).items():
        match = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight", key)
        if match is None:
            raise SystemExit(f"{adapter_dir}: unexpected key {key!r}")
        pairs.setdefault(match.group(1), {})[match.group(2)] = tensor
    for path, pair in pairs.items():
        if set(pair) != {"A", "B"}:
            raise SystemExit(f"{adapter_dir}: {path} needs both lora_A and lora_B")
    return config, {path: (pair["A"], pair["B"]) for path, pair in pairs.items()}


def merged_weights(model_config, weights, adapter_config, pairs):
    """A copy of `weights` with s * B @ A added to every adapted module (computed in float64)."""
    s = scaling_of(adapter_config)
    merged = dict(weights)
    gpt2 = model_config["model_type"] == "gpt2"
    for path, (A, B) in pairs.items():
        delta = s * (B.double() @ A.double())  # [out, in]
        if gpt2 and path.startswith("h."):
            path = "transformer." + path  # adapters made on GPT2Model rather than GPT2LMHeadModel
        if path == "lm_head" and "lm_head.weight" not in weights:
            raise SystemExit("forward: lm_head is tied to the embeddings in this model; the reference does not adapt a tied head")
        key = gpt2_weight_key(weights, path) if gpt2 else path + ".weight"
        if key not in weights:
            raise SystemExit(f"forward: the adapter targets {path}, which the model has no weight for")
        if gpt2 and path != "lm_head":
            delta = delta.t()  # Conv1D stores [in, out]
        if tuple(delta.shape) != tuple(weights[key].shape):
            raise SystemExit(f"forward: {path}: B @ A is {list(delta.shape)}, the weight is {list(weights[key].shape)}")
        merged[key] = (weights[key].double() + delta).to(weights[key].dtype)
    return merged, s


def forward_with_adapter(args):
    model_config, weights = read_model_folder(args.model_dir)
    adapter_config, pairs = read_adapter(args.adapter)
    merged, s = merged_weights(model_config, weights, adapter_config, pairs)
    model = hf_model.DecoderLM(hf_model.spec_from_config(model_config), model_config, merged)
    tokens = json.loads(args.tokens)
    if tokens and not isinstance(tokens[0], list):
        tokens = [tokens]
    input_ids = torch.tensor(tokens, dtype=torch.long)
    logits = model.forward(input_ids, output_hidden_states=False).logits
    result = {"family": model.spec.family, "scaling": s, "modules": sorted(pairs), "input_ids": tokens,
              "logits": logits.float().tolist()}
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text + "\n")


def parser():
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)

    write = commands.add_parser("write", help="write a PEFT LoRA adapter folder with random non-zero A and B")
    write.add_argument("model_dir")
    write.add_argument("out_adapter")
    write.add_argument("--r", type=int, required=True)
    write.add_argument("--alpha", type=number, required=True)
    write.add_argument("--rslora", action="store_true", help="use_rslora: scaling alpha / sqrt(r)")
    targets = write.add_mutually_exclusive_group(required=True)
    targets.add_argument("--targets", help="comma-separated module names, e.g. q_proj,v_proj")
    targets.add_argument("--target-regex", help="one regex that must match a whole module path")
    targets.add_argument("--all-linear", action="store_true", help="every linear layer but lm_head")
    write.add_argument("--layers", help="layers_to_transform, comma-separated block indices")
    write.add_argument("--dropout", type=float, default=0.0)
    write.add_argument("--seed", type=int, default=0)
    write.set_defaults(run=write_adapter)

    forward = commands.add_parser("forward", help="reference logits with the adapter merged into the weights")
    forward.add_argument("model_dir")
    forward.add_argument("adapter")
    forward.add_argument("--tokens", required=True, help="JSON: a list of ids or a rectangular list of lists")
    forward.add_argument("--out", help="write the JSON here instead of stdout")
    forward.set_defaults(run=forward_with_adapter)

    batch = commands.add_parser("batch", help="run a JSON list of write/forward argument lists in this process")
    batch.add_argument("jobs")
    batch.set_defaults(run=None)
    return top


def main(argv=None):
    torch.set_num_threads(1)  # tiny models: threads only add OpenMP wake-up latency
    args = parser().parse_args(argv)
    if args.command != "batch":
        args.run(args)
        return
    with open(args.jobs, encoding="utf-8") as f:
        jobs = json.load(f)
    for job in jobs:
        job_args = parser().parse_args(job)
        if job_args.command == "batch":
            raise SystemExit("batch: jobs must be write or forward commands")
        job_args.run(job_args)


if __name__ == "__main__":
    main()
