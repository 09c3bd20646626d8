"""Tensors as JSON for the peer scripts: {"dtype": basin dtype name, "shape": [...], "b64": raw
little-endian bytes in base64}. The same encoding as test/tensor/peer-helper.ts.

Public API:
    decode(entry) -> torch.Tensor
    encode(tensor) -> dict
    DTYPES: basin dtype name -> torch dtype
"""

import base64

import torch

DTYPES = {
    "f32": torch.float32,
    "f64": torch.float64,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i64": torch.int64,
    "i32": torch.int32,
    "u8": torch.uint8,
    "bool": torch.bool,
    "i16": torch.int16,
    "i8": torch.int8,
}
_NAME_OF = {dtype: name for name, dtype in DTYPES.items()}


def decode(entry):
    dtype = DTYPES[entry["dtype"]]
    shape = entry["shape"]
    raw = bytearray(base64.b64decode(entry["b64"]))
    if len(raw) == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(raw, dtype=dtype).reshape(shape).clone()


def encode(tensor):
    t = tensor.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().tobytes()  # numpy has no bfloat16: write the bits
    else:
        raw = t.numpy().tobytes()
    return {"dtype": _NAME_OF[t.dtype], "shape": list(t.shape), "b64": base64.b64encode(raw).decode("ascii")}
