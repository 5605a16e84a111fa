"""GGUF, llama.cpp's single-file model format: a reader written from the specification.

    file      = header | key/values | tensor infos | padding to ALIGNMENT | tensor data
    header    = "GGUF" | version u32 | tensor count u64 | key/value count u64   (little-endian)
    key/value = key string | value type u32 | value
    string    = byte length u64 | UTF-8 bytes, no NUL
    array     = element type u32 | element count u64 | the elements (which may be arrays)
    tensor    = name string | n_dims u32 | dims u64 x n_dims | ggml type u32 | offset u64

The data section starts at the first multiple of ALIGNMENT (`general.alignment`, default 32)
after the tensor infos; each tensor's offset is relative to it and a multiple of ALIGNMENT.
Source: ggml's docs/gguf.md. Versions 2 and 3 share this layout (3 allows big-endian files,
which are refused here); version 1 had 32-bit counts and is refused too.

Shapes: GGUF lists a tensor's dims innermost (fastest-varying) first, like ggml's ne[0], ne[1].
Everything here is in NumPy's row-major order, the reverse: dims (576, 1536) in the file is
shape [1536, 576], i.e. [out_features, in_features] for a linear layer's weight.

    with GGUFFile(path) as f:
        f.metadata["llama.block_count"]            # 30
        w = f.tensor("blk.0.attn_q.weight")        # float32 [576, 576]
        b = f.blocks("blk.0.attn_q.weight")        # the 4-bit blocks as stored, [576, 18]

Metadata arrays come back as Python lists, numeric ones too (np.frombuffer(...).tolist() is
fast enough: 49,152 token types in about 1 ms), so `.metadata` holds only str, int, float,
bool and lists of these. The file is memory-mapped read-only; tensor bytes are read only when
`raw`, `blocks` or `tensor` asks for them.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GGUFFile", "GGUFError", "TensorInfo", "read_gguf", "GGML_TYPES"]

MAGIC, VERSIONS, DEFAULT_ALIGNMENT = b"GGUF", (2, 3), 32

# Metadata value types: number -> struct format of one value; 8 is a string, 9 an array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B",
            10: "<Q", 11: "<q", 12: "<d"}
_BOOL, _STRING, _ARRAY = 7, 8, 9
_STRUCTS = {t: struct.Struct(f) for t, f in _SCALARS.items()}
_U32, _U64 = _STRUCTS[4], _STRUCTS[10]

# ggml tensor types: number -> (name, elements per block, bytes per block), from enum ggml_type.
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}

# One block of each type this module understands, as a NumPy dtype (an element for the plain
# types). Block layouts, 32 weights x[0..31] a block:
#
#   Q8_0, 34 bytes:  | d: f16 | qs: 32 x int8 |               x[i] = d * qs[i]
#   Q4_0, 18 bytes:  | d: f16 | qs: 16 bytes |                x[i] = d * (q[i] - 8)
#   Q4_1, 20 bytes:  | d: f16 | m: f16 | qs: 16 bytes |       x[i] = d * q[i] + m
#
#   The 4-bit q[i] of Q4_0/Q4_1 (0..15): byte qs[j] holds two of them,
#       low nibble  qs[j] & 0x0F -> q[j]          (j = 0..15: the first half of the block)
#       high nibble qs[j] >> 4   -> q[j + 16]     (the second half)
BLOCK_DTYPES = {
    "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"), "I8": np.dtype("<i1"), "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
    "Q8_0": np.dtype([("d", "<f2"), ("qs", "<i1", (32,))]),
    "Q4_0": np.dtype([("d", "<f2"), ("qs", "<u1", (16,))]),
    "Q4_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qs", "<u1", (16,))]),
}


def _nibbles(qs):
    """[..., 16] uint8 -> [..., 32] uint8: the low nibbles, then the high ones (layout above)."""
    return np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=-1)


def _f32(field):
    """[...] f16 scale -> [..., 1] float32, ready to broadcast over a block's 32 weights."""
    return field.astype(np.float32)[..., None]


# De-quantisers: blocks [..., n_blocks] -> float32 [..., n_blocks, block_size] (plain types:
# the same shape as their input). Each is a few whole-array operations, no loop over blocks.
_DEQUANTIZE = {
    **{t: np.array for t in ("F32", "F64", "I8", "I16", "I32", "I64")},  # a copy, as stored
    "F16": lambda b: b.astype(np.float32),
    "BF16": lambda b: (b.astype(np.uint32) << np.uint32(16)).view(np.float32),  # top half of f32
    "Q8_0": lambda b: b["qs"].astype(np.float32) * _f32(b["d"]),
    "Q4_0": lambda b: _f32(b["d"]) * (_nibbles(b["qs"]).astype(np.int8) - np.int8(8)),
    "Q4_1": lambda b: _f32(b["d"]) * _nibbles(b["qs"]).astype(np.float32) + _f32(b["m"]),
}


class GGUFError(ValueError):
    """A GGUF file that cannot be read; the message names the file and where it went wrong."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: `shape` in NumPy order, `offset` in bytes from the file's start."""

    name: str
    shape: tuple[int, ...]
    type: int
    type_name: str
    offset: int
    nbytes: int

    @property
    def dims(self) -> tuple[int, ...]:
        """The dims as the file lists them, innermost first."""
        return self.shape[::-1]

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class _Cursor:
    """Reads little-endian values from the mapped file; says what it was reading if it ends."""

    def __init__(self, buf, path):
        self.buf, self.pos, self.end, self.path, self.what = buf, 0, len(buf), path, "header"

    def take(self, n: int) -> int:
        start = self.pos
        if n > self.end - start:
            raise GGUFError(f"{self.path}: truncated {self.what}: needs {n} bytes at offset "
                            f"{start}, but the file ends at {self.end}")
        self.pos = start + n
        return start

    def scalar(self, fmt: struct.Struct):
        return fmt.unpack_from(self.buf, self.take(fmt.size))[0]

    def string(self) -> str:
        n = self.scalar(_U64)
        start = self.take(n)
        try:
            return self.buf[start:start + n].decode("utf-8")
        except UnicodeDecodeError as e:
            raise GGUFError(f"{self.path}: {self.what}: the string at offset {start} is not "
                            f"UTF-8 ({e.reason})") from None

    def strings(self, n: int) -> list[str]:
        """n strings in a row (a token list): string() inlined, twice as fast; its errors too."""
        buf, pos, end, unpack, out = self.buf, self.pos, self.end, _U64.unpack_from, []
        try:
            for _ in range(n):
                if pos + 8 > end or (stop := pos + 8 + unpack(buf, pos)[0]) > end:
                    break
                out.append(buf[pos + 8:stop].decode("utf-8"))
                pos = stop
        except UnicodeDecodeError:
            pass
        self.pos = pos
        return out + [self.string() for _ in range(n - len(out))]  # raises if any is left

    def value(self, vtype: int, key: str, type_pos: int):
        """One metadata value of type `vtype` (its type number was read at `type_pos`)."""
        if vtype in _STRUCTS:
            x = self.scalar(_STRUCTS[vtype])
            return self._bool([x], key)[0] if vtype == _BOOL else x
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype_pos = self.pos
            etype, n = self.scalar(_U32), self.scalar(_U64)
            if etype in _STRUCTS:
                dtype = np.dtype(_SCALARS[etype])
                xs = np.frombuffer(self.buf, dtype, n, self.take(n * dtype.itemsize)).tolist()
                return self._bool(xs, key) if etype == _BOOL else xs
            if etype == _STRING:
                return self.strings(n)
            if etype == _ARRAY:
                return [self.value(_ARRAY, key, self.pos) for _ in range(n)]
            vtype, type_pos = etype, etype_pos
        raise GGUFError(f"{self.path}: metadata key {key!r} has unknown value type {vtype} "
                        f"(at offset {type_pos}; known: 0-12)")

    def _bool(self, xs: list[int], key: str) -> list[bool]:
        if any(x > 1 for x in xs):
            raise GGUFError(f"{self.path}: metadata key {key!r}: a bool must be 0 or 1, "
                            f"got {max(xs)}")
        return [bool(x) for x in xs]


class GGUFFile:
    """A GGUF file, memory-mapped: `.version`, `.metadata`, `.tensors`, and each tensor's data."""

    def __init__(self, path: str | os.PathLike):
        self.path, self.closed = Path(path), False
        with open(self.path, "rb") as f:
            self.size = os.fstat(f.fileno()).st_size
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if self.size else b""
        try:
            self._parse()
        except BaseException:
            self.close()
            raise

    def _parse(self) -> None:
        cur = _Cursor(self._mm, self.path)
        head = bytes(self._mm[:4])
        if head != MAGIC[:len(head)]:
            raise GGUFError(f"{self.path}: not a GGUF file: it starts with {head!r}, "
                            f"not {MAGIC!r}")
        cur.take(4)  # a file shorter than the magic is a truncated header
        self.version = cur.scalar(_U32)
        if self.version not in VERSIONS:
            big_endian = self.version == int.from_bytes(b"\0\0\0\3", "little")
            swapped = " (that is 3 byte-swapped: a big-endian file)" if big_endian else ""
            raise GGUFError(f"{self.path}: GGUF version {self.version}{swapped} is not "
                            f"supported; this reader reads little-endian versions 2 and 3")
        n_tensors, n_kv = cur.scalar(_U64), cur.scalar(_U64)
        self.metadata = self._read_metadata(cur, n_kv)
        infos = self._read_tensor_infos(cur, n_tensors)
        self.alignment = self._alignment()
        self.data_offset = -cur.pos % self.alignment + cur.pos
        self.tensors = {name: self._check(name, *info) for name, info in infos.items()}

    def _read_metadata(self, cur: _Cursor, n_kv: int) -> dict:
        metadata = {}
        for i in range(n_kv):
            cur.what = f"metadata key #{i}"
            key = cur.string()
            if key in metadata:
                raise GGUFError(f"{self.path}: metadata key {key!r} appears twice")
            cur.what, type_pos = f"metadata value of {key!r}", cur.pos
            metadata[key] = cur.value(cur.scalar(_U32), key, type_pos)
        return metadata

    def _read_tensor_infos(self, cur: _Cursor, n_tensors: int) -> dict:
        infos = {}
        for i in range(n_tensors):
            cur.what = f"tensor info #{i}"
            name = cur.string()
            cur.what = f"tensor info #{i} ({name!r})"
            n_dims = cur.scalar(_U32)
            dims = struct.unpack_from(f"<{n_dims}Q", cur.buf, cur.take(8 * n_dims))
            type_pos = cur.pos
            ggml_type, offset = cur.scalar(_U32), cur.scalar(_U64)
            if name in infos:
                raise GGUFError(f"{self.path}: tensor {name!r} appears twice")
            infos[name] = (dims, ggml_type, offset, type_pos)
        return infos

    def _alignment(self) -> int:
        a = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if type(a) is not int or a <= 0 or a & (a - 1):
            raise GGUFError(f"{self.path}: general.alignment must be a power of two, got {a!r}")
        return a

    def _check(self, name: str, dims: tuple, ggml_type: int, offset: int, type_pos: int):
        """Validate one tensor info against the type table and the file's size."""
        if ggml_type not in GGML_TYPES:
            raise GGUFError(f"{self.path}: tensor {name!r} has unknown ggml type {ggml_type} "
                            f"(at offset {type_pos})")
        type_name, block, type_size = GGML_TYPES[ggml_type]
        shape = tuple(int(d) for d in dims[::-1])  # innermost-first -> NumPy order
        if dims and dims[0] % block:
            raise GGUFError(f"{self.path}: tensor {name!r} ({type_name}, shape {list(shape)}): "
                            f"its innermost dim {dims[0]} is not a multiple of {block}")
        if offset % self.alignment:
            raise GGUFError(f"{self.path}: tensor {name!r}: offset {offset} is not a multiple "
                            f"of the alignment {self.alignment}")
        start = self.data_offset + offset
        nbytes = int(np.prod(shape, dtype=object)) // block * type_size
        if start + nbytes > self.size:
            raise GGUFError(f"{self.path}: tensor {name!r} ({type_name}, shape {list(shape)}) "
                            f"runs past the end of the file: its data starts at offset {start} "
                            f"and needs {nbytes} bytes, but the file is {self.size} bytes "
                            f"long; the file looks truncated")
        return TensorInfo(name, shape, ggml_type, type_name, start, nbytes)

    # -- tensor data -------------------------------------------------------------------------

    def _info(self, name: str) -> TensorInfo:
        if self.closed:
            raise GGUFError(f"{self.path}: the file is closed")
        if name not in self.tensors:
            raise KeyError(f"no tensor {name!r} in {self.path.name} "
                           f"({len(self.tensors)} tensors; see .tensors)")
        return self.tensors[name]

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as stored: a read-only uint8 view of the mapped file, [nbytes]."""
        info = self._info(name)
        return np.frombuffer(self._mm, np.uint8, info.nbytes, info.offset)

    def blocks(self, name: str) -> np.ndarray:
        """The stored blocks as a read-only structured view, [*shape[:-1], shape[-1] // block].

        Q4_1 blocks have fields d, m (float16) and qs (16 bytes of nibbles); Q4_0 d, qs;
        Q8_0 d, qs (32 int8). Plain types (F32, F16, ...) give their elements, [*shape]."""
        info = self._info(name)
        if info.type_name not in BLOCK_DTYPES:
            raise GGUFError(f"{self.path}: tensor {name!r} has type {info.type_name}, whose "
                            f"blocks this reader does not know; .raw(name) gives its bytes")
        block = GGML_TYPES[info.type][1]
        shape = info.shape[:-1] + (info.shape[-1] // block,) if info.shape else ()
        return self.raw(name).view(BLOCK_DTYPES[info.type_name]).reshape(shape)

    def tensor(self, name: str, dtype=np.float32) -> np.ndarray:
        """The tensor de-quantised into a new array in NumPy order, [*shape] of `dtype`."""
        info = self._info(name)
        if info.type_name not in _DEQUANTIZE:
            raise GGUFError(f"{self.path}: tensor {name!r} has type {info.type_name}, which "
                            f"this reader does not de-quantise (it reads "
                            f"{', '.join(_DEQUANTIZE)}); .raw(name) gives its bytes")
        x = _DEQUANTIZE[info.type_name](self.blocks(name))  # [..., n_blocks, block]
        return x.reshape(info.shape).astype(dtype, copy=False)

    # -- summary and lifetime ----------------------------------------------------------------

    def __repr__(self) -> str:
        if not hasattr(self, "tensors"):
            return f"GGUFFile({str(self.path)!r}, unreadable)"
        types = Counter(t.type_name for t in self.tensors.values())
        n_params = sum(t.n_elements for t in self.tensors.values())
        return (f"GGUFFile({str(self.path)!r}, version {self.version}, "
                f"{self.metadata.get('general.architecture', '?')} "
                f"{self.metadata.get('general.name', '')!r}, {len(self.metadata)} metadata keys, "
                f"{len(self.tensors)} tensors: "
                f"{', '.join(f'{k} x{n}' for k, n in types.most_common())}; "
                f"{n_params / 1e6:.1f} M parameters in {self.size / 1e6:.1f} MB)")

    def close(self) -> None:
        """Unmap the file. Views from raw() and blocks() keep the mapping alive until freed."""
        mm, self._mm, self.closed = self._mm, b"", True
        if isinstance(mm, mmap.mmap):
            try:
                mm.close()
            except BufferError:  # a view still uses it: it is unmapped when the view goes
                pass

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_gguf(path: str | os.PathLike) -> GGUFFile:
    """Open a GGUF file: the same as GGUFFile(path)."""
    return GGUFFile(path)
