"""Writes a small safetensors file from PyTorch tensors, as a fixture for basin's reader.

Usage: /usr/bin/python3 bench/peer/write_safetensors.py OUT.safetensors

The `safetensors` package is not installed here, so the format is written with struct + json:
an 8-byte little-endian header length, the JSON header padded with spaces to a multiple of 8,
then each tensor's raw little-endian bytes. Tensors are written in the order below (not the
reference library's order) so the reader is checked on an order it did not produce itself.
Values are torch.arange based and exactly representable in every dtype used:

  f32   float32  [2, 3]  (arange(6) - 2.5) * 0.5
  f64   float64  [5]     arange(5) / 4
  f16   float16  [8]     (arange(8) - 4) * 0.25
  bf16  bfloat16 [8]     (arange(8) - 4) * 0.25
  i64   int64    [4]     arange(4) * -(2**40)
  i32   int32    [3, 2]  arange(6) * -1000
  i16   int16    [4]     arange(4) - 300
  i8    int8     [8]     arange(-4, 4)
  u8    uint8    [6]     arange(250, 256)
  bool  bool     [5]     arange(5) % 2 == 0
  scalar float32 []      3.5
  empty float32  [0, 3]  (no data)
"""

import json
import struct
import sys

import torch

DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the same 2 bytes as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def fixture_tensors() -> dict:
    return {
        "f32": ((torch.arange(6, dtype=torch.float32) - 2.5) * 0.5).reshape(2, 3),
        "f64": torch.arange(5, dtype=torch.float64) / 4,
        "f16": ((torch.arange(8, dtype=torch.float32) - 4) * 0.25).to(torch.float16),
        "bf16": ((torch.arange(8, dtype=torch.float32) - 4) * 0.25).to(torch.bfloat16),
        "i64": torch.arange(4, dtype=torch.int64) * -(2**40),
        "i32": (torch.arange(6, dtype=torch.int32) * -1000).reshape(3, 2),
        "i16": torch.arange(4, dtype=torch.int16) - 300,
        "i8": torch.arange(-4, 4, dtype=torch.int8),
        "u8": torch.arange(250, 256, dtype=torch.int32).to(torch.uint8),
        "bool": torch.arange(5) % 2 == 0,
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }


def write_safetensors(path: str, tensors: dict, metadata: dict) -> None:
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        data = tensor_bytes(t)
        header[name] = {
            "dtype": DTYPE_NAMES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for data in chunks:
            f.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: write_safetensors.py OUT.safetensors")
    write_safetensors(sys.argv[1], fixture_tensors(), {"format": "pt", "writer": "bench/peer/write_safetensors.py"})
