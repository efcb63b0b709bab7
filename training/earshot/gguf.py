"""GGUF v3 writer and reader for Earshot model files (docs/model-format.md, "Container"): the one
place the training recipe, the pVAD scripts and the benchmarks write or read a model file.

Usage:
    w = GgufWriter()
    w.add("general.architecture", "earshot-transducer")      # str -> STRING
    w.add_u32("earshot.d_model", 192)
    w.add_tensor("enc.in.weight", weight, "Q4_0")              # [out, in] torch tensor
    w.write("model.gguf")

The writer adds `general.alignment` and `earshot.data_crc32` itself.
"""
import os
import struct
import zlib

import numpy as np
import torch

from . import quant

ALIGNMENT = 32
GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3

# Metadata value types (gguf.h enum gguf_type).
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR_FORMAT = {
    UINT8: "<B",
    INT8: "<b",
    UINT16: "<H",
    INT16: "<h",
    UINT32: "<I",
    INT32: "<i",
    FLOAT32: "<f",
    BOOL: "<?",
    UINT64: "<Q",
    INT64: "<q",
    FLOAT64: "<d",
}

# Tensor types (ggml_type).
TENSOR_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8}


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _pad(n: int) -> int:
    return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT


class GgufWriter:
    def __init__(self):
        self._meta = []  # (key, type, value, element type for arrays)
        self._tensors = []  # (name, ne list, ggml type id, bytes)
        self._keys = set()

    # -- metadata -------------------------------------------------------------------------------
    def add_typed(self, key: str, vtype: int, value, elem_type: int = None) -> None:
        if key in self._keys:
            raise ValueError(f"duplicate metadata key {key!r}")
        if vtype == ARRAY and elem_type is None:
            raise ValueError(f"array {key!r} needs an element type")
        self._keys.add(key)
        self._meta.append((key, vtype, value, elem_type))

    def add(self, key: str, value) -> None:
        """Python value -> GGUF type: str STRING, bool BOOL, int UINT32 (INT32 if negative),
        float FLOAT32, list of str STRING array."""
        if isinstance(value, bool):
            self.add_typed(key, BOOL, value)
        elif isinstance(value, str):
            self.add_typed(key, STRING, value)
        elif isinstance(value, int):
            self.add_typed(key, INT32 if value < 0 else UINT32, value)
        elif isinstance(value, float):
            self.add_typed(key, FLOAT32, value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            self.add_typed(key, ARRAY, list(value), STRING)
        else:
            raise TypeError(f"metadata {key!r}: no GGUF type for {type(value).__name__}")

    def add_u32(self, key: str, value: int) -> None:
        self.add_typed(key, UINT32, int(value))

    def add_f32(self, key: str, value: float) -> None:
        self.add_typed(key, FLOAT32, float(value))

    # -- tensors --------------------------------------------------------------------------------
    def add_tensor(self, name: str, tensor: torch.Tensor, ttype: str = "F32") -> None:
        if ttype not in TENSOR_TYPES:
            raise ValueError(f"tensor {name!r}: unsupported type {ttype}")
        if any(n == name for n, *_ in self._tensors):
            raise ValueError(f"duplicate tensor {name!r}")
        t = tensor.detach().cpu().float().contiguous()
        if t.dim() not in (1, 2):
            raise ValueError(f"tensor {name!r}: only 1-D and 2-D tensors, got {tuple(t.shape)}")
        ne = list(reversed(t.shape))  # ne[0] is the innermost (column) dimension
        if ttype == "F32":
            data = t.numpy().astype("<f4").tobytes()
        elif ttype == "F16":
            data = t.numpy().astype("<f2").tobytes()
        else:
            if t.shape[-1] % quant.BLOCK:
                raise ValueError(
                    f"tensor {name!r}: {ttype} needs columns divisible by {quant.BLOCK}, " f"got {t.shape[-1]}"
                )
            data = quant.pack_q4_0(t) if ttype == "Q4_0" else quant.pack_q8_0(t)
        self._tensors.append((name, ne, TENSOR_TYPES[ttype], data))

    # -- file -----------------------------------------------------------------------------------
    def _data_section(self):
        offsets, blob = [], bytearray()
        for _, _, _, data in self._tensors:
            offsets.append(len(blob))
            blob += data
            blob += b"\0" * _pad(len(blob))
        return offsets, bytes(blob)

    def _value(self, vtype: int, value, elem_type) -> bytes:
        if vtype == STRING:
            return _string(value)
        if vtype == ARRAY:
            out = struct.pack("<IQ", elem_type, len(value))
            return out + b"".join(self._value(elem_type, v, None) for v in value)
        return struct.pack(_SCALAR_FORMAT[vtype], value)

    def to_bytes(self) -> bytes:
        offsets, data = self._data_section()
        meta = (
            [("general.alignment", UINT32, ALIGNMENT, None)]
            + [m for m in self._meta if m[0] not in ("general.alignment", "earshot.data_crc32")]
            + [("earshot.data_crc32", UINT32, zlib.crc32(data) & 0xFFFFFFFF, None)]
        )
        out = bytearray(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self._tensors), len(meta)))
        for key, vtype, value, elem_type in meta:
            out += _string(key) + struct.pack("<I", vtype) + self._value(vtype, value, elem_type)
        for (name, ne, tid, _), off in zip(self._tensors, offsets):
            out += _string(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
            out += struct.pack("<IQ", tid, off)
        out += b"\0" * _pad(len(out))
        return bytes(out) + data

    def write(self, path: str) -> int:
        blob = self.to_bytes()
        # Write aside and rename: a process that has the old file mapped keeps a valid mapping.
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
        return len(blob)


def read_gguf(path: str):
    """(metadata dict, {name: (float32 tensor [rows, cols] or [n], type name)}) of a GGUF file this
    writer can write; quantized tensors come back dequantized, with the type they are stored in.
    Checks the data CRC."""
    with open(path, "rb") as f:
        blob = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, blob, pos)
        pos += struct.calcsize(fmt)
        return vals[0]

    def value(t):
        nonlocal pos
        if t == STRING:
            n = take("<Q")
            pos += n
            return blob[pos - n : pos].decode("utf-8")
        if t == ARRAY:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR_FORMAT[t])

    if blob[:4] != GGUF_MAGIC:
        raise ValueError(f"{path}: not a GGUF file")
    pos = 4
    version, n_tensors, n_meta = take("<I"), take("<Q"), take("<Q")
    if version != GGUF_VERSION:
        raise ValueError(f"{path}: GGUF version {version}, expected {GGUF_VERSION}")
    meta = {}
    for _ in range(n_meta):
        key = value(STRING)
        meta[key] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = value(STRING)
        ne = [take("<Q") for _ in range(take("<I"))]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = meta.get("general.alignment", ALIGNMENT)
    data = blob[(pos + align - 1) // align * align :]
    if "earshot.data_crc32" in meta and zlib.crc32(data) & 0xFFFFFFFF != meta["earshot.data_crc32"]:
        raise ValueError(f"{path}: data CRC mismatch (file corrupt)")
    types = {v: k for k, v in TENSOR_TYPES.items()}
    tensors = {}
    for name, ne, tid, off in infos:
        if tid not in types:
            raise ValueError(f"{path}: tensor {name} has unsupported type {tid}")
        cols, rows = ne[0], (ne[1] if len(ne) > 1 else 1)
        n = cols * rows
        kind = types[tid]
        if kind == "F32":
            t = torch.from_numpy(np.frombuffer(data, "<f4", n, off).copy())
        elif kind == "F16":
            t = torch.from_numpy(np.frombuffer(data, "<f2", n, off).astype(np.float32))
        elif kind == "Q4_0":
            t = quant.unpack_q4_0(data[off : off + n // 32 * 18], rows, cols)
        else:
            t = quant.unpack_q8_0(data[off : off + n // 32 * 34], rows, cols)
        tensors[name] = (t.reshape(rows, cols) if len(ne) > 1 else t.reshape(cols), kind)
    return meta, tensors
