"""An independent PyTorch writer and reader of SAE files, for test/sae/files.test.ts.

Usage: /usr/bin/python3 bench/peer/sae_files.py INPUT.json OUTPUT.json

INPUT.json is {"command": ..., ...}; OUTPUT.json holds tensors as tensor_json.py entries.
Commands:
  write_sae      {dir, architecture: standard|jumprelu|topk, layout: v6|flat, d_in, d_sae, tokens,
                  seed, dtype: float32|bfloat16, apply_b_dec_to_input, log_threshold, sparsity, k}
                 writes a SAELens folder (cfg.json in the v6 or the flat pre-6.0 layout,
                 sae_weights.safetensors, optionally sparsity.safetensors) with seeded random
                 weights; returns the tensors a reader must produce (threshold = exp(log_threshold)
                 when the file stores log_threshold), an input x and, for float32 standard and
                 jumprelu SAEs, the latents and reconstruction computed here.
  read_sae       {dir, x}: reads a SAELens folder (written by basin) with st.py and json, and returns
                 its cfg, tensors, sparsity and the latents and reconstruction of x.
  write_goodfire {path, d_in, d_sae, tokens, seed}: torch.save of the state_dict of a module
                 shaped like Goodfire's SAE (encoder_linear, decoder_linear); returns its tensors,
                 an input x and relu(encoder_linear(x)), decoder_linear(that).
  write_pth      {dir}: torch.save files for the .pth reader: views.pth (views and dtypes),
                 views-protocol4.pth (the same, pickled at protocol 4), evil.pth (an object whose
                 __reduce__ calls os.system), long.pth (an int64 tensor), module.pth (a whole
                 nn.Module); returns views.pth's tensors as torch reads them.
  pickles        {}: plain data (ints of every width, floats, strings, tuples, lists, dicts, an
                 OrderedDict, shared references, a memo of > 256 entries) pickled at protocols 2
                 and 4 (base64), and the same data as JSON: dicts as {"__dict__": [[k, v], ...],
                 "ordered": bool}, ints beyond 2^53 as {"int": "..."}, inf/nan as {"float": "..."};
                 and two tuples that contain themselves through a list (recursive.short, .long).
  batch          {jobs: [command, ...]}: several commands in one start of Python; returns their outputs.

The SAE math is SAELens's, written out with plain torch:
  standard: z = relu((x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc), x_hat = z @ W_dec + b_dec
  jumprelu: pre as above, z = relu(pre) * (pre > threshold)
"""

import base64
import collections
import json
import math
import os
import pickle
import sys

import torch

from st import load_file, save_file
from tensor_json import decode, encode

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "torch.float32": torch.float32, "torch.bfloat16": torch.bfloat16}
# a pre-activation this close to a JumpReLU threshold could fall on either side in another implementation
THRESHOLD_MARGIN = 1e-3


def sae_forward(w, architecture, apply_b_dec, x):
    pre = (x - w["b_dec"] * float(apply_b_dec)) @ w["W_enc"] + w["b_enc"]
    if architecture == "jumprelu":
        margin = (pre - w["threshold"]).abs().min().item()
        if margin < THRESHOLD_MARGIN:
            raise ValueError(f"a pre-activation lies {margin} from its threshold; choose another seed")
        z = torch.relu(pre) * (pre > w["threshold"])
    elif architecture == "standard":
        z = torch.relu(pre)
    else:
        raise ValueError(f"no reference forward for architecture {architecture}")
    return z, z @ w["W_dec"] + w["b_dec"]


def random_weights(spec):
    g = torch.Generator().manual_seed(spec["seed"])
    d_in, d_sae = spec["d_in"], spec["d_sae"]
    w = {
        "W_enc": torch.randn(d_in, d_sae, generator=g) * 0.4,
        "b_enc": torch.randn(d_sae, generator=g) * 0.1,
        "W_dec": torch.randn(d_sae, d_in, generator=g) * 0.4,
        "b_dec": torch.randn(d_in, generator=g) * 0.1,
    }
    if spec["architecture"] == "jumprelu":
        w["threshold"] = torch.rand(d_sae, generator=g) * 0.3 + 0.05
    x = torch.randn(spec["tokens"], d_in, generator=g)
    return w, x


def metadata(spec):
    return {
        "model_name": "persona-world-tiny",
        "hook_name": "blocks.1.hook_resid_post",
        "hook_head_index": None,
        "prepend_bos": True,
        "context_size": 128,
        "dataset_path": "persona-world/pretrain",
        "neuronpedia_id": None,
        "model_from_pretrained_kwargs": {"center_writing_weights": False},
        "seqpos_slice": [None],
        "exclude_special_tokens": False,
        "sae_lens_version": "6.18.0",
        "sae_lens_training_version": "6.18.0",
    }


def v6_cfg(spec, dtype_name):
    cfg = {
        "d_in": spec["d_in"],
        "d_sae": spec["d_sae"],
        "dtype": dtype_name,
        "device": "cpu",
        "apply_b_dec_to_input": spec["apply_b_dec_to_input"],
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": metadata(spec),
        "architecture": spec["architecture"],
        "decoder_init_norm": 0.1,  # a training field SAELens leaves in cfg.json; a reader must keep it
    }
    if spec["architecture"] == "topk":
        cfg["k"] = spec["k"]
        cfg["rescale_acts_by_decoder_norm"] = False
    return cfg


def flat_cfg(spec, dtype_name):
    """A pre-6.0 cfg.json (SAELens 3.x–5.x), flat, with the old key names."""
    cfg = {
        "model_name": "persona-world-tiny",
        "hook_point": "blocks.1.hook_resid_post",
        "hook_point_layer": 1,
        "hook_point_head_index": None,
        "d_in": spec["d_in"],
        "d_sae": spec["d_sae"],
        "dtype": "torch." + dtype_name if not dtype_name.startswith("torch.") else dtype_name,
        "device": "cpu",
        "activation_fn_str": "topk" if spec["architecture"] == "topk" else "relu",
        "activation_fn_kwargs": {"k": spec["k"]} if spec["architecture"] == "topk" else {},
        "apply_b_dec_to_input": spec["apply_b_dec_to_input"],
        "normalize_activations": False,
        "context_size": 128,
        "prepend_bos": True,
        "dataset_path": "persona-world/pretrain",
        "finetuning_scaling_factor": False,
        "sae_lens_training_version": "3.13.0",
        "l1_coefficient": 8e-05,
        "lr": 0.0004,
    }
    if spec["architecture"] == "jumprelu":
        cfg["architecture"] = "jumprelu"
    return cfg


def write_sae(spec):
    directory = spec["dir"]
    os.makedirs(directory, exist_ok=True)
    dtype = DTYPES[spec["dtype"]]
    w, x = random_weights(spec)
    stored = {name: t.to(dtype) for name, t in w.items()}
    if spec.get("log_threshold"):
        stored["log_threshold"] = torch.log(stored.pop("threshold"))
    save_file(stored, os.path.join(directory, "sae_weights.safetensors"))
    cfg = v6_cfg(spec, spec["dtype"]) if spec["layout"] == "v6" else flat_cfg(spec, spec["dtype"])
    with open(os.path.join(directory, "cfg.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    expected = dict(stored)
    if "log_threshold" in expected:
        expected["threshold"] = torch.exp(expected.pop("log_threshold"))
    out = {"tensors": {name: encode(t) for name, t in expected.items()}, "x": encode(x)}
    if spec.get("sparsity"):
        g = torch.Generator().manual_seed(spec["seed"] + 1)
        sparsity = torch.log10(torch.rand(spec["d_sae"], generator=g) * 0.5 + 1e-4)
        save_file({"sparsity": sparsity}, os.path.join(directory, "sparsity.safetensors"))
        out["sparsity"] = encode(sparsity)
    if dtype == torch.float32 and spec["architecture"] in ("standard", "jumprelu"):
        z, x_hat = sae_forward(expected, spec["architecture"], spec["apply_b_dec_to_input"], x)
        out["latents"] = encode(z)
        out["recon"] = encode(x_hat)
    return out


def read_sae(spec):
    directory = spec["dir"]
    with open(os.path.join(directory, "cfg.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    tensors = load_file(os.path.join(directory, "sae_weights.safetensors"))
    out = {"cfg": cfg, "tensors": {name: encode(t) for name, t in tensors.items()}}
    sparsity_path = os.path.join(directory, "sparsity.safetensors")
    if os.path.exists(sparsity_path):
        out["sparsity"] = encode(load_file(sparsity_path)["sparsity"])
    x = decode(spec["x"])
    w = {name: t.to(torch.float32) for name, t in tensors.items()}
    z, x_hat = sae_forward(w, cfg["architecture"], cfg["apply_b_dec_to_input"], x)
    out["latents"] = encode(z)
    out["recon"] = encode(x_hat)
    return out


class GoodfireSAE(torch.nn.Module):
    """The shape of Goodfire's released SAEs: z = relu(encoder_linear(x)), x_hat = decoder_linear(z)."""

    def __init__(self, d_in, d_sae):
        super().__init__()
        self.encoder_linear = torch.nn.Linear(d_in, d_sae)
        self.decoder_linear = torch.nn.Linear(d_sae, d_in)

    def forward(self, x):
        z = torch.relu(self.encoder_linear(x))
        return z, self.decoder_linear(z)


def write_goodfire(spec):
    torch.manual_seed(spec["seed"])
    sae = GoodfireSAE(spec["d_in"], spec["d_sae"])
    torch.save(sae.state_dict(), spec["path"])
    x = torch.randn(spec["tokens"], spec["d_in"])
    with torch.no_grad():
        z, x_hat = sae(x)
    return {
        "tensors": {name: encode(t) for name, t in sae.state_dict().items()},
        "x": encode(x),
        "latents": encode(z),
        "recon": encode(x_hat),
    }


class Evil:
    """Pickled as a call of os.system: loading it with pickle would run the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def write_pth(spec):
    directory = spec["dir"]
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.tensor([1.5, -2.0, 0.25])
    views = {
        "transposed": base.T,  # stride (1, 6)
        "offset": base[1:],  # contiguous at storage offset 6
        "columns": base[:, 2:5],  # stride (6, 1), rows not adjacent
        "stepped": base[::2, ::3],
        "expanded": torch.arange(3, dtype=torch.float32)[None].expand(2, 3),  # stride (0, 1)
        "half": torch.linspace(-2, 2, 5).half(),
        "bf16": torch.linspace(-2, 2, 5).bfloat16(),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "shared_a": shared,
        "shared_b": shared,  # the same tensor twice: the pickle's memo refers back to it
    }
    torch.save(views, os.path.join(directory, "views.pth"))
    torch.save(views, os.path.join(directory, "views-protocol4.pth"), pickle_protocol=4)
    torch.save({"w": torch.ones(2), "payload": Evil(f"touch {os.path.join(directory, 'ran')}")}, os.path.join(directory, "evil.pth"))
    torch.save({"steps": torch.arange(3)}, os.path.join(directory, "long.pth"))
    torch.save(torch.nn.Linear(2, 2), os.path.join(directory, "module.pth"))
    return {"tensors": {name: encode(t) for name, t in views.items()}}


def to_json(v):
    if isinstance(v, dict):
        return {"__dict__": [[to_json(k), to_json(x)] for k, x in v.items()], "ordered": isinstance(v, collections.OrderedDict)}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53 - 1:
        return {"int": str(v)}
    if isinstance(v, float) and not math.isfinite(v):
        return {"float": str(v)}
    return v


def pickles(_spec):
    shared = ["shared"]
    late = ["memoized after 256 others"]
    value = {
        "ints": [0, 1, 255, 256, 65535, 65536, -1, -(2**31), 2**31, 2**40, -(2**63), 2**63 - 1],
        "floats": [0.5, -1e300, float("inf"), float("-inf")],
        "constants": [None, True, False],
        "strings": ["", "é", "x" * 300],
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "nested": {"one": [1], "empty": {}, "solo": {"k": "v"}, "list": []},
        "ordered": collections.OrderedDict([("z", 1), ("a", [2])]),
        "memo": [shared, shared] + [f"s{i}" for i in range(300)] + [shared, late, late],
        3: "an int key",
    }
    # tuples that contain themselves (through a list): the pickler closes them with POP (≤ 3 items) or POP_MARK
    short, long = ([],), ([], 1, 2, 3)
    short[0].append(short)
    long[0].append(long)
    encode64 = lambda v, p: base64.b64encode(pickle.dumps(v, protocol=p)).decode("ascii")  # noqa: E731
    return {
        "pickles": {str(p): encode64(value, p) for p in (2, 4)},
        "expected": to_json(value),
        "recursive": {"short": encode64(short, 2), "long": encode64(long, 2)},
    }


COMMANDS = {"write_sae": write_sae, "read_sae": read_sae, "write_goodfire": write_goodfire, "write_pth": write_pth, "pickles": pickles}


def run(spec):
    """One command, or {"command": "batch", "jobs": [...]} for several in one start of Python."""
    if spec["command"] == "batch":
        return [run(job) for job in spec["jobs"]]
    return COMMANDS[spec["command"]](spec)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    out = run(spec)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
