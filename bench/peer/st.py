"""Minimal safetensors reader/writer (torch + numpy + stdlib only).

File layout (https://github.com/huggingface/safetensors): 8-byte little-endian u64 N, then N bytes of
UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {str: str}},
then the byte buffer; offsets are relative to the buffer start. This writer pads the header with
spaces so the buffer starts on an 8-byte boundary, and lays tensors out largest element size first
so every tensor is aligned to its element size.

Public API:
    load_file(path) -> dict[str, torch.Tensor]
    load_metadata(path) -> dict[str, str]
    save_file(tensors: dict[str, torch.Tensor], path, metadata: dict[str, str] | None = None) -> None
    load_folder(folder) -> dict[str, torch.Tensor]   # model.safetensors or model.safetensors.index.json
"""

import json
import os
import struct

import numpy as np
import torch

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"

# safetensors dtype tag -> (torch dtype, numpy dtype used to read the raw bytes)
_DTYPES = {
    "F64": (torch.float64, np.float64),
    "F32": (torch.float32, np.float32),
    "F16": (torch.float16, np.float16),
    "BF16": (torch.bfloat16, np.int16),  # numpy has no bfloat16: read the bits, reinterpret in torch
    "I64": (torch.int64, np.int64),
    "I32": (torch.int32, np.int32),
    "U8": (torch.uint8, np.uint8),
    "BOOL": (torch.bool, np.bool_),
}
_TAG_OF = {torch_dtype: tag for tag, (torch_dtype, _) in _DTYPES.items()}


def _read_header(f, path):
    raw_len = f.read(8)
    if len(raw_len) != 8:
        raise ValueError(f"{path}: shorter than the 8-byte safetensors header length")
    (header_len,) = struct.unpack("<Q", raw_len)
    file_size = os.fstat(f.fileno()).st_size
    if header_len > file_size - 8:
        raise ValueError(f"{path}: header length {header_len} exceeds the file size {file_size}")
    header = json.loads(f.read(header_len).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    return header, 8 + header_len, file_size


def load_metadata(path):
    """The free-form `__metadata__` string map of a safetensors file ({} when absent)."""
    with open(path, "rb") as f:
        header, _, _ = _read_header(f, path)
    return dict(header.get("__metadata__") or {})


def load_file(path):
    """All tensors of one safetensors file, as CPU tensors in their stored dtype."""
    with open(path, "rb") as f:
        header, data_start, file_size = _read_header(f, path)
        buffer = bytearray(file_size - data_start)  # writable, so torch.from_numpy does not warn
        f.readinto(buffer)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tag = entry["dtype"]
        if tag not in _DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {tag}; supported: {', '.join(_DTYPES)}")
        torch_dtype, np_dtype = _DTYPES[tag]
        shape = [int(d) for d in entry["shape"]]
        begin, end = (int(o) for o in entry["data_offsets"])
        itemsize = np.dtype(np_dtype).itemsize
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= len(buffer)) or end - begin != count * itemsize:
            raise ValueError(
                f"{path}: tensor '{name}' offsets [{begin}, {end}] do not hold {count} x {tag} "
                f"inside a {len(buffer)}-byte buffer"
            )
        array = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=begin)
        if (data_start + begin) % itemsize != 0:
            array = array.copy()  # unaligned data (other writers may produce it): copy to aligned memory
        tensor = torch.from_numpy(array)
        if tag == "BF16":
            tensor = tensor.view(torch.bfloat16)
        tensors[name] = tensor.reshape(shape)
    return tensors


def save_file(tensors, path, metadata=None):
    """Write `tensors` (name -> tensor, any device) to `path` as safetensors."""
    entries = []
    for name, tensor in tensors.items():
        if tensor.dtype not in _TAG_OF:
            raise ValueError(f"save_file: tensor '{name}' has dtype {tensor.dtype}; convert it to one of {list(_TAG_OF)}")
        entries.append((name, tensor.detach().to("cpu").contiguous()))
    entries.sort(key=lambda e: (-e[1].element_size(), e[0]))  # largest element size first keeps all aligned

    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, tensor in entries:
        bits = tensor.view(torch.int16) if tensor.dtype == torch.bfloat16 else tensor
        blob = bits.numpy().tobytes()
        header[name] = {
            "dtype": _TAG_OF[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)


def load_folder(folder):
    """All weights of an HF model folder: sharded (model.safetensors.index.json) or single-file."""
    index_path = os.path.join(folder, INDEX_FILE)
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            shard_tensors = load_file(os.path.join(folder, shard))
            for name, file_name in weight_map.items():
                if file_name == shard:
                    if name not in shard_tensors:
                        raise ValueError(f"{index_path}: '{name}' is mapped to {shard} but that file does not hold it")
                    tensors[name] = shard_tensors[name]
        return tensors
    single_path = os.path.join(folder, SINGLE_FILE)
    if os.path.exists(single_path):
        return load_file(single_path)
    raise FileNotFoundError(f"{folder}: neither {SINGLE_FILE} nor {INDEX_FILE} exists; point at an HF model folder")
