"""The GGUF reader: against the spec by hand, against PyPI's `gguf` package, on SmolLM2's file.

Three kinds of file:
- small ones built byte by byte here from the spec (always run), with a scalar, one-element-
  at-a-time reference de-quantiser written from the block layouts;
- small ones written by `gguf.GGUFWriter` (llama.cpp's own Python package), with values and
  de-quantised tensors compared with `gguf.GGUFReader` / `gguf.quants.dequantize`;
- the real SmolLM2-135M-Instruct file, every key and all 272 tensors against `gguf`
  (skipped until `tinytransformer fetch smollm2` has run).
"""

import struct

import numpy as np
import pytest

from tinytransformer.pretrained import GGUFError, GGUFFile, ModelNotFetchedError, model_path
from tinytransformer.pretrained.gguf import GGML_TYPES

try:
    import gguf
except ImportError:  # the oracle; everything built by hand still runs without it
    gguf = None

needs_gguf = pytest.mark.skipif(gguf is None, reason="the oracle, PyPI's gguf, is not installed")

# -- files built by hand from the spec ---------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
       U64: "<Q", I64: "<q", F64: "<d"}


def gstr(text) -> bytes:
    """gguf_string_t: u64 byte length, then the UTF-8 bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def val(vtype: int, x) -> bytes:
    """A value's bytes (without its type), for a scalar, a string, or (etype, [items])."""
    if vtype == STR:
        return gstr(x)
    if vtype == ARR:
        etype, items = x
        return struct.pack("<IQ", etype, len(items)) + b"".join(val(etype, i) for i in items)
    return struct.pack(FMT[vtype], x)


def build(kv: list, tensors: list, version: int = 3, alignment: int = 32) -> bytes:
    """A GGUF file from kv = [(key, vtype, value)], tensors = [(name, dims, type, raw)].

    dims innermost first, as the file lists them."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    out += b"".join(gstr(k) + struct.pack("<I", t) + val(t, x) for k, t, x in kv)
    data = b""
    for name, dims, ggml_type, raw in tensors:
        data += b"\0" * (-len(data) % alignment)
        out += gstr(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, len(data))
        data += raw
    return out + b"\0" * (-len(out) % alignment) + data


BLOCKS = {  # the block layouts of the spec, as NumPy dtypes, to make random blocks
    "Q8_0": np.dtype([("d", "<f2"), ("qs", "<i1", (32,))]),
    "Q4_0": np.dtype([("d", "<f2"), ("qs", "<u1", (16,))]),
    "Q4_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qs", "<u1", (16,))]),
}
TYPE_NUMBER = {name: number for number, (name, _, _) in GGML_TYPES.items()}


def random_blocks(type_name: str, n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = np.zeros(n, BLOCKS[type_name])
    b["d"] = rng.uniform(-0.1, 0.1, n)
    if "m" in b.dtype.names:
        b["m"] = rng.uniform(-1, 1, n)
    b["qs"] = rng.integers(-128 if type_name == "Q8_0" else 0, 128 if type_name == "Q8_0" else 256,
                           b["qs"].shape)
    return b.tobytes()


def reference(type_name: str, raw: bytes) -> list:
    """De-quantise one element at a time, straight from the block layouts (float32 arithmetic)."""
    f32, out = np.float32, []
    if type_name in ("F32", "F16"):
        fmt = "<f" if type_name == "F32" else "<e"
        return [f32(x) for (x,) in struct.iter_unpack(fmt, raw)]
    size = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20}[type_name]
    for start in range(0, len(raw), size):
        block = raw[start:start + size]
        d = f32(struct.unpack_from("<e", block)[0])
        if type_name == "Q8_0":  # | d f16 | 32 x int8 |
            out += [d * f32(q) for q in struct.unpack_from("<32b", block, 2)]
            continue
        m = f32(struct.unpack_from("<e", block, 2)[0]) if type_name == "Q4_1" else None
        qs = block[-16:]  # byte j: low nibble -> element j, high nibble -> element j + 16
        for q in [b & 0x0F for b in qs] + [b >> 4 for b in qs]:
            out.append(d * f32(q - 8) if m is None else d * f32(q) + m)
    return out


def test_every_value_type_by_hand(tmp_path):
    kv = [("u8", U8, 255), ("i8", I8, -128), ("u16", U16, 65535), ("i16", I16, -32768),
          ("u32", U32, 2**32 - 1), ("i32", I32, -2**31), ("f32", F32, 0.1),
          ("u64", U64, 2**64 - 1), ("i64", I64, -2**63), ("f64", F64, 0.1),
          ("yes", BOOL, 1), ("no", BOOL, 0), ("s", STR, "héllo ✓ 你好"), ("empty_s", STR, ""),
          ("a_u8", ARR, (U8, [0, 255])), ("a_f32", ARR, (F32, [1.5, -2.25])),
          ("a_bool", ARR, (BOOL, [1, 0, 1])), ("a_s", ARR, (STR, ["a", "", "ü"])),
          ("a_empty", ARR, (I64, [])), ("a_nested", ARR, (ARR, [(I32, [1, 2]), (I32, [])])),
          ("a_deep", ARR, (ARR, [(ARR, [(STR, ["x"])])]))]
    path = tmp_path / "kv.gguf"
    path.write_bytes(build(kv, []))
    with GGUFFile(path) as f:
        m = f.metadata
    assert list(m) == [k for k, _, _ in kv] and f.tensors == {} and f.version == 3
    assert m["u64"] == 2**64 - 1 and m["i64"] == -2**63 and m["u8"] == 255 and m["i8"] == -128
    assert m["f32"] == float(np.float32(0.1)) and m["f64"] == 0.1
    assert m["yes"] is True and m["no"] is False and m["a_bool"] == [True, False, True]
    assert all(type(x) is bool for x in m["a_bool"])
    assert m["s"] == "héllo ✓ 你好" and m["empty_s"] == "" and m["a_s"] == ["a", "", "ü"]
    assert m["a_u8"] == [0, 255] and m["a_f32"] == [1.5, -2.25] and m["a_empty"] == []
    assert m["a_nested"] == [[1, 2], []] and m["a_deep"] == [[["x"]]]
    assert all(type(x) is int for x in m["a_u8"]) and type(m["a_f32"][0]) is float


@pytest.mark.parametrize("type_name, dims", [
    ("F32", (5, 3)), ("F16", (8, 2)), ("Q8_0", (64, 3)), ("Q4_0", (96, 2)), ("Q4_1", (32, 5)),
    ("Q4_1", (64,)), ("Q8_0", (32, 2, 3)),
])
def test_dequantise_matches_the_block_layout(tmp_path, type_name, dims):
    n = int(np.prod(dims))
    if type_name in BLOCKS:
        raw = random_blocks(type_name, n // 32, seed=n)
    else:
        dtype = {"F32": "<f4", "F16": "<f2"}[type_name]
        raw = np.random.default_rng(n).normal(size=n).astype(dtype).tobytes()
    path = tmp_path / "t.gguf"
    pad = ("pad", (3,), 0, b"\0" * 12)  # so that "t" starts at data offset 32, not 0
    path.write_bytes(build([], [pad, ("t", dims, TYPE_NUMBER[type_name], raw)]))
    with GGUFFile(path) as f:
        x, info = f.tensor("t"), f.tensors["t"]
        assert info.shape == dims[::-1] and info.dims == dims and info.type_name == type_name
        assert info.offset % 32 == 0 and info.nbytes == len(raw) and f.raw("t").tobytes() == raw
        assert x.dtype == np.float32 and x.shape == dims[::-1] and x.flags.writeable
        assert np.array_equal(x.ravel(), np.array(reference(type_name, raw), np.float32))
        assert not f.raw("t").flags.writeable and not f.blocks("t").flags.writeable
        if type_name in BLOCKS:
            assert f.blocks("t").shape == dims[::-1][:-1] + (dims[0] // 32,)
            assert f.blocks("t").dtype == BLOCKS[type_name]
        assert f.tensor("t", dtype=np.float64).dtype == np.float64


# -- a small file, by hand and by gguf's writer, and the ways it can be broken -----------------

SMALL_KV = [("general.architecture", STR, "test"), ("test.count", U32, 7),
            ("test.flag", BOOL, 1), ("test.names", ARR, (STR, ["a", "bb", "ccc"]))]


def small_by_hand() -> bytes:
    norm = np.arange(8, dtype=np.float32).tobytes()
    return build(SMALL_KV, [("norm", (8,), 0, norm),
                            ("w", (64, 4), 3, random_blocks("Q4_1", 8)),
                            ("emb", (32, 3), 8, random_blocks("Q8_0", 3))])


def small_by_gguf_writer(path, **writer_args) -> bytes:
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(path, "test", **writer_args)
    w.add_uint32("test.count", 7)
    w.add_bool("test.flag", True)
    w.add_array("test.names", ["a", "bb", "ccc"])
    w.add_tensor("norm", np.arange(8, dtype=np.float32))
    q = gguf.GGMLQuantizationType
    w.add_tensor("w", gguf.quants.quantize(rng.normal(size=(4, 64)), q.Q4_1), raw_dtype=q.Q4_1)
    w.add_tensor("emb", gguf.quants.quantize(rng.normal(size=(3, 32)), q.Q8_0), raw_dtype=q.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


@pytest.fixture(params=["by_hand", "gguf_writer"])
def small(request, tmp_path) -> bytes:
    if request.param == "by_hand":
        return small_by_hand()
    if gguf is None:
        pytest.skip("the oracle, PyPI's gguf, is not installed")
    return small_by_gguf_writer(tmp_path / "small.gguf")


def test_small_file(small, tmp_path):
    path = tmp_path / "ok.gguf"
    path.write_bytes(small)
    with GGUFFile(path) as f:
        assert f.metadata == {"general.architecture": "test", "test.count": 7,
                              "test.flag": True, "test.names": ["a", "bb", "ccc"]}
        assert {n: (t.shape, t.type_name) for n, t in f.tensors.items()} == {
            "norm": ((8,), "F32"), "w": ((4, 64), "Q4_1"), "emb": ((3, 32), "Q8_0")}
        assert f.tensor("norm").tolist() == list(range(8)) and f.alignment == 32
        assert "3 tensors: F32 x1, Q4_1 x1, Q8_0 x1" in repr(f)
        with pytest.raises(KeyError, match="no tensor 'nope'"):
            f.raw("nope")
    with pytest.raises(GGUFError, match="closed"):
        f.tensor("w")


def _at(data: bytes, marker: bytes, after: int = 0) -> int:
    return data.index(marker) + len(marker) + after


def _put(data: bytes, pos: int, fmt: str, x) -> bytes:
    return data[:pos] + struct.pack(fmt, x) + data[pos + struct.calcsize(fmt):]


W_TYPE = (gstr("w"), 4 + 2 * 8)  # the name 'w', then n_dims and two dims: its ggml type is next


def data_start(d: bytes) -> int:
    """Where the small file's data starts: after the last tensor info ('emb'), aligned to 32."""
    end = _at(d, gstr("emb"), 4 + 2 * 8 + 4 + 8)
    return end + -end % 32


DATA_END = 32 + 160 + 102  # norm F32 [8], w Q4_1 [4, 64], emb Q8_0 [3, 32] (at 0, 32, 192)
BROKEN = [  # (what, damage(file bytes) -> bytes, the error's message)
    ("bad magic", lambda d: b"GGML" + d[4:], r"not a GGUF file: it starts with b'GGML'"),
    ("version 1", lambda d: _put(d, 4, "<I", 1), r"GGUF version 1 is not supported"),
    ("version 4", lambda d: _put(d, 4, "<I", 4), r"GGUF version 4 is not supported"),
    ("big-endian", lambda d: _put(d, 4, ">I", 3), r"version 50331648 \(that is 3 byte-swapped"),
    ("empty file", lambda d: b"", r"truncated header: needs 4 bytes at offset 0"),
    ("cut in the magic", lambda d: d[:2], r"truncated header"),
    ("cut in the counts", lambda d: d[:14], r"truncated header: needs 8 bytes at offset 8"),
    ("cut in a key", lambda d: d[:_at(d, b"test.na")], r"truncated metadata key #3"),
    ("cut in an array", lambda d: d[:_at(d, b"cc")],
     r"truncated metadata value of 'test.names': needs 3 bytes at offset \d+"),
    ("cut in a tensor name", lambda d: d[:_at(d, b"em")], r"truncated tensor info #2"),
    ("cut in a tensor's dims", lambda d: d[:_at(d, gstr("w"), 9)],
     r"truncated tensor info #1 \('w'\)"),
    ("cut in the last tensor", lambda d: d[:data_start(d) + DATA_END - 1],
     r"tensor 'emb' \(Q8_0, shape \[3, 32\]\) runs past the end of the file: its data starts "
     r"at offset \d+ and needs 102 bytes, but the file is \d+ bytes long"),
    ("cut in the first tensor", lambda d: d[:data_start(d) + 4],
     r"tensor 'norm' \(F32, shape \[8\]\) runs past the end of the file: its data starts at "
     r"offset \d+ and needs 32 bytes"),
    ("unknown tensor type", lambda d: _put(d, _at(d, *W_TYPE), "<I", 99),
     r"tensor 'w' has unknown ggml type 99 \(at offset \d+\)"),
    ("removed tensor type Q4_2", lambda d: _put(d, _at(d, *W_TYPE), "<I", 4),
     r"tensor 'w' has unknown ggml type 4"),
    ("a dim that splits a block", lambda d: _put(d, _at(d, gstr("w"), 4), "<Q", 48),
     r"tensor 'w' \(Q4_1, shape \[4, 48\]\): its innermost dim 48 is not a multiple of 32"),
    ("misaligned tensor", lambda d: _put(d, _at(d, *W_TYPE) + 4, "<Q", 8),
     r"tensor 'w': offset 8 is not a multiple of the alignment 32"),
    ("unknown value type", lambda d: _put(d, _at(d, b"test.count"), "<I", 13),
     r"metadata key 'test.count' has unknown value type 13 \(at offset \d+"),
    ("unknown array type", lambda d: _put(d, _at(d, b"test.names", 4), "<I", 13),
     r"metadata key 'test.names' has unknown value type 13"),
    ("bool that is 2", lambda d: _put(d, _at(d, b"test.flag", 4), "<B", 2),
     r"'test.flag': a bool must be 0 or 1, got 2"),
    ("string not UTF-8", lambda d: d.replace(gstr("bb"), gstr(b"\xff\xfe")),
     r"metadata value of 'test.names': the string at offset \d+ is not UTF-8"),
    ("duplicate key", lambda d: d.replace(b"test.names", b"test.count"),
     r"metadata key 'test.count' appears twice"),
]


@pytest.mark.parametrize("what, damage, match", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_is_refused(small, tmp_path, what, damage, match):
    path = tmp_path / "broken.gguf"
    path.write_bytes(damage(small))
    with pytest.raises(GGUFError, match=match) as e:
        GGUFFile(path)
    assert str(path) in str(e.value)


def test_every_prefix_is_refused_cleanly(small, tmp_path):
    """A file cut at any byte is a GGUFError (never an IndexError or struct.error)."""
    path = tmp_path / "cut.gguf"
    for n in range(data_start(small) + DATA_END):  # (the writer pads after the last tensor)
        path.write_bytes(small[:n])
        with pytest.raises(GGUFError):
            GGUFFile(path)


def test_every_damaged_header_byte_is_refused_or_read(small, tmp_path):
    """Each byte before the data set to 0xFF: a GGUFError or a readable file, nothing else."""
    path = tmp_path / "damaged.gguf"
    path.write_bytes(small)
    with GGUFFile(path) as f:
        end = f.data_offset
    for i in range(end):
        path.write_bytes(small[:i] + b"\xff" + small[i + 1:])
        try:
            with GGUFFile(path) as f:
                [f.tensor(n) for n in f.tensors]
        except GGUFError:
            pass


def test_alignment_from_metadata(tmp_path):
    kv = [("general.alignment", U32, 64)]
    path = tmp_path / "a.gguf"
    path.write_bytes(build(kv, [("a", (3,), 0, b"\0" * 12), ("b", (2,), 0, b"\1" * 8)],
                          alignment=64))
    with GGUFFile(path) as f:
        assert f.alignment == 64 and f.data_offset % 64 == 0
        assert [t.offset % 64 for t in f.tensors.values()] == [0, 0]
    path.write_bytes(build([("general.alignment", U32, 48)], []))
    with pytest.raises(GGUFError, match="general.alignment must be a power of two, got 48"):
        GGUFFile(path)


def test_types_it_does_not_dequantise(tmp_path):
    path = tmp_path / "k.gguf"
    path.write_bytes(build([], [("k", (256,), TYPE_NUMBER["Q4_K"], b"\0" * 144)]))
    with GGUFFile(path) as f:
        assert f.tensors["k"].nbytes == 144 and len(f.raw("k")) == 144
        with pytest.raises(GGUFError, match="tensor 'k' has type Q4_K, which this reader does not"):
            f.tensor("k")
        with pytest.raises(GGUFError, match="Q4_K, whose blocks this reader does not know"):
            f.blocks("k")


# -- against PyPI's gguf: files written by GGUFWriter ------------------------------------------

if gguf is not None:
    V = gguf.GGUFValueType
    WRITTEN_KV = [  # (key, value written, value type, element type, value read back)
        ("t.u8", 255, V.UINT8, None, 255), ("t.i8", -128, V.INT8, None, -128),
        ("t.u16", 65535, V.UINT16, None, 65535), ("t.i16", -32768, V.INT16, None, -32768),
        ("t.u32", 2**32 - 1, V.UINT32, None, 2**32 - 1), ("t.i32", -2**31, V.INT32, None, -2**31),
        ("t.f32", 0.1, V.FLOAT32, None, float(np.float32(0.1))),
        ("t.u64", 2**64 - 1, V.UINT64, None, 2**64 - 1), ("t.i64", -2**63, V.INT64, None, -2**63),
        ("t.f64", 0.1, V.FLOAT64, None, 0.1), ("t.true", True, V.BOOL, None, True),
        ("t.false", False, V.BOOL, None, False),
        ("t.str", "héllo 你好", V.STRING, None, "héllo 你好"),
        ("t.empty_str", "", V.STRING, None, ""),
        *[(f"t.a_{t.name.lower()}", [1, 2, 3], V.ARRAY, t, [1, 2, 3])
          for t in (V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.UINT64, V.INT64)],
        ("t.a_neg", [-1, -2], V.ARRAY, V.INT64, [-1, -2]),
        ("t.a_f32", [0.5, 0.1], V.ARRAY, V.FLOAT32, [0.5, float(np.float32(0.1))]),
        ("t.a_f64", [0.5, 0.1], V.ARRAY, V.FLOAT64, [0.5, 0.1]),
        ("t.a_bool", [True, False], V.ARRAY, V.BOOL, [True, False]),
        ("t.a_str", ["Ġ t", "", "你"], V.ARRAY, V.STRING, ["Ġ t", "", "你"]),
        ("t.a_nested", [[1, 2], [3]], V.ARRAY, None, [[1, 2], [3]]),
        ("t.a_nested_str", [["a"], ["b", "c"]], V.ARRAY, None, [["a"], ["b", "c"]]),
    ]
    Q = gguf.GGMLQuantizationType
    WRITTEN_TENSORS = [  # (name, ggml type, NumPy shape)
        ("f32", Q.F32, (3, 5)), ("f16", Q.F16, (4, 8)), ("bf16", Q.BF16, (2, 16)),
        ("q8_0", Q.Q8_0, (6, 64)), ("q4_0", Q.Q4_0, (5, 96)), ("q4_1", Q.Q4_1, (7, 32)),
        ("q4_1_1d", Q.Q4_1, (64,)), ("q4_1_3d", Q.Q4_1, (2, 3, 32)),
        ("q8_0_3d", Q.Q8_0, (2, 2, 64)),
    ]
else:
    WRITTEN_KV = WRITTEN_TENSORS = []


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One file with every value type and tensor type, by GGUFWriter; (ours, gguf's reader)."""
    if gguf is None:
        pytest.skip("the oracle, PyPI's gguf, is not installed")
    path, rng = tmp_path_factory.mktemp("gguf") / "written.gguf", np.random.default_rng(1)
    w = gguf.GGUFWriter(path, "test")
    w.add_custom_alignment(64)
    for key, x, vtype, sub_type, _ in WRITTEN_KV:
        w.add_key_value(key, x, vtype, sub_type)
    for name, qtype, shape in WRITTEN_TENSORS:
        w.add_tensor(name, gguf.quants.quantize(rng.normal(size=shape).astype(np.float32), qtype),
                     raw_dtype=qtype)
    for dtype in ("float64", "int8", "int16", "int32", "int64"):
        w.add_tensor(dtype, (rng.normal(size=(3, 4)) * 50).astype(dtype))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with GGUFFile(path) as ours:
        yield ours, gguf.GGUFReader(path)


@needs_gguf
@pytest.mark.parametrize("key, written_value, vtype, sub_type, expected", WRITTEN_KV,
                         ids=[row[0] for row in WRITTEN_KV])
def test_value_round_trips(written, key, written_value, vtype, sub_type, expected):
    ours, theirs = written
    assert ours.metadata[key] == expected
    assert repr(ours.metadata[key]) == repr(expected)  # bool is not int, 1.0 is not 1
    if "nested" not in key:  # gguf's reader flattens nested arrays
        assert repr(ours.metadata[key]) == repr(theirs.fields[key].contents())


@needs_gguf
def test_written_file_layout(written):
    ours, theirs = written
    assert list(ours.metadata) == [k for k in theirs.fields if not k.startswith("GGUF.")]
    assert ours.alignment == theirs.alignment == 64 and ours.data_offset == theirs.data_offset


@needs_gguf
@pytest.mark.parametrize("name", [t[0] for t in WRITTEN_TENSORS]
                         + ["float64", "int8", "int16", "int32", "int64"])
def test_tensor_equals_gguf(written, name):
    ours, theirs = written
    t = next(t for t in theirs.tensors if t.name == name)
    info = ours.tensors[name]
    assert info.shape == tuple(int(d) for d in t.shape[::-1])  # gguf: innermost first
    assert info.type_name == t.tensor_type.name
    assert (info.offset, info.nbytes) == (t.data_offset, t.n_bytes) and info.offset % 64 == 0
    assert np.array_equal(ours.raw(name), t.data.view(np.uint8).ravel())
    if t.tensor_type in (Q.F64, Q.I8, Q.I16, Q.I32, Q.I64):  # gguf's reader gives these typed
        assert np.array_equal(ours.tensor(name, dtype=t.data.dtype), t.data)
        expected = t.data.astype(np.float32)
    else:
        expected = gguf.quants.dequantize(t.data, t.tensor_type)
    assert np.array_equal(ours.tensor(name), expected.reshape(info.shape))
    assert ours.tensor(name).dtype == np.float32


@needs_gguf
def test_big_endian_file_is_refused(tmp_path):
    path = tmp_path / "be.gguf"
    small_by_gguf_writer(path, endianess=gguf.GGUFEndian.BIG)
    with pytest.raises(GGUFError, match="3 byte-swapped: a big-endian file"):
        GGUFFile(path)


@needs_gguf
def test_type_table_equals_gguf():
    for number, (name, block, type_size) in GGML_TYPES.items():
        if name in Q.__members__:
            assert Q[name].value == number and gguf.GGML_QUANT_SIZES[Q[name]] == (block, type_size)


# -- the real file: SmolLM2-135M-Instruct, Q4_1 ------------------------------------------------

@pytest.fixture(scope="module")
def smollm2():
    """Our reader on the real file (skipped until it is fetched)."""
    try:
        path = model_path("smollm2")
    except ModelNotFetchedError:
        pytest.skip("SmolLM2's weights are not fetched: run `tinytransformer fetch smollm2`")
    with GGUFFile(path) as ours:
        yield ours


@pytest.fixture(scope="module")
def smollm2_gguf(smollm2):
    """gguf's reader on the same file (4 s to open: it parses each string into NumPy parts)."""
    if gguf is None:
        pytest.skip("the oracle, PyPI's gguf, is not installed")
    return gguf.GGUFReader(smollm2.path)


def test_smollm2_metadata_equals_gguf(smollm2, smollm2_gguf):
    ours, theirs = smollm2, smollm2_gguf
    fields = {k: f for k, f in theirs.fields.items() if not k.startswith("GGUF.")}
    assert ours.version == theirs.fields["GGUF.version"].contents() == 3
    assert list(ours.metadata) == list(fields) and len(ours.metadata) == 33
    for key, field in fields.items():
        assert ours.metadata[key] == field.contents(), key
        assert repr(ours.metadata[key]) == repr(field.contents()), key  # the same types too


def test_smollm2_keys_the_model_and_tokenizer_read(smollm2):
    m = smollm2.metadata
    tokens = m["tokenizer.ggml.tokens"]
    assert len(tokens) == 49152 and tokens[1] == "<|im_start|>" and type(tokens[0]) is str
    assert m["tokenizer.ggml.merges"][0] == "Ġ t" and len(m["tokenizer.ggml.merges"]) == 48900
    assert set(m["tokenizer.ggml.token_type"]) <= {1, 3} and m["tokenizer.ggml.pre"] == "smollm"
    assert m["tokenizer.chat_template"].startswith("{% for message in messages %}")
    assert (m["tokenizer.ggml.bos_token_id"], m["tokenizer.ggml.eos_token_id"]) == (1, 2)
    assert (m["llama.block_count"], m["llama.embedding_length"]) == (30, 576)
    assert m["llama.attention.layer_norm_rms_epsilon"] == float(np.float32(1e-5))


def test_smollm2_tensors_equal_gguf(smollm2, smollm2_gguf):
    ours, theirs = smollm2, smollm2_gguf
    assert list(ours.tensors) == [t.name for t in theirs.tensors] and len(ours.tensors) == 272
    types = [t.type_name for t in ours.tensors.values()]
    assert (types.count("Q4_1"), types.count("F32"), types.count("Q8_0")) == (210, 61, 1)
    for t in theirs.tensors:
        info = ours.tensors[t.name]
        assert info.shape == tuple(int(d) for d in t.shape[::-1]), t.name  # gguf: innermost first
        assert info.type_name == t.tensor_type.name and info.offset == t.data_offset, t.name
        expected = gguf.quants.dequantize(t.data, t.tensor_type)
        assert np.array_equal(ours.tensor(t.name), expected.reshape(info.shape)), t.name
    assert ours.tensors["token_embd.weight"].shape == (49152, 576)
    assert ours.tensors["blk.0.ffn_down.weight"].shape == (576, 1536)  # [out, in]


def test_smollm2_blocks_are_the_stored_bytes(smollm2):
    ours = smollm2
    b, raw = ours.blocks("blk.0.attn_q.weight"), ours.raw("blk.0.attn_q.weight")
    assert b.shape == (576, 18) and b.dtype.names == ("d", "m", "qs")
    assert b.tobytes() == raw.tobytes()
    assert np.array_equal(ours.tensor("blk.0.attn_q.weight")[0, :64],
                          np.array(reference("Q4_1", raw[:40].tobytes()), np.float32))
