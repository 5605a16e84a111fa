"""Tiled attention (online softmax, scores recomputed in backward) against the fused kernel.

The tiled kernels' Numba twin equals their NumPy reference; both equal the fused attention kernel
to 1e-12 in float64, values and gradients, with masks (causal, padding, rows that see nothing),
dropout (the same key gives the same mask) and tiles that do not divide the lengths; the graph op
passes a float64 gradient check; its memory does not grow as T^2. Each test runs on each backend.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytransformer as tt
from tinytransformer import functional as F
from tinytransformer import kernels
from tinytransformer.gradcheck import gradcheck
from tinytransformer.kernels import reference as ref
from tinytransformer.kernels import reference_tiled

from .strategies import arrays, float_dtypes, masks
from .test_kernels import assert_close, run


def _case(data, dtype):
    """q, k, v, g, mask, scale, dropout key and p, block sizes: small, so tiles split rows."""
    B, H, T_q, T_k, D, D_v = (data.draw(st.integers(1, n)) for n in (2, 3, 9, 9, 5, 5))
    q, k = data.draw(arrays((B, H, T_q, D), dtype)), data.draw(arrays((B, H, T_k, D), dtype))
    v, g = data.draw(arrays((B, H, T_k, D_v), dtype)), data.draw(arrays((B, H, T_q, D_v), dtype))
    p = data.draw(st.sampled_from([None, 0.3, 1.0]))
    drop = None if p is None else (data.draw(st.integers(0, 2**64 - 1)), p)
    blocks = data.draw(st.integers(1, 10)), data.draw(st.integers(1, 10))
    return q, k, v, g, data.draw(masks((B, H, T_q, T_k))), D**-0.5, drop, blocks


def _tiled(backend, q, k, v, g, mask, scale, drop, blocks):
    out, lse = run(backend, "attention_tiled_forward", q, k, v, mask, scale, drop, *blocks)
    grads = run(backend, "attention_tiled_backward", g, q, k, v, out, lse, mask, scale, drop,
                *blocks)
    return out, lse, *grads


def _fused(q, k, v, g, mask, scale, drop):
    """The fused reference kernel with dropout_mask's full [B, H, T_q, T_k] mask for drop's key."""
    full = None
    if drop is not None:
        shape = q.shape[:3] + k.shape[2:3]
        full = ref.dropout_mask(shape, drop[1], _KeyRng(drop[0]), q.dtype)
    out, p = ref.attention_forward(q, k, v, mask, scale, full)
    return out, *ref.attention_backward(g, q, k, v, p, scale, full)


class _KeyRng:
    """A stand-in generator whose one raw draw is `key` (what dropout_mask takes from an rng)."""

    def __init__(self, key):
        self.bit_generator = self
        self.key = key

    def random_raw(self):
        return self.key


@given(data=st.data(), dtype=float_dtypes)
def test_numba_equals_numpy(data, dtype):
    args = _case(data, dtype)
    assert_close(_tiled("numba", *args), _tiled("numpy", *args))


@pytest.mark.parametrize("backend", ["numpy", "numba"])  # a name, not the fixture: hypothesis
@given(data=st.data())
def test_tiled_equals_fused_float64(backend, data):
    q, k, v, g, mask, scale, drop, blocks = _case(data, np.float64)
    out, lse, *grads = _tiled(backend, q, k, v, g, mask, scale, drop, blocks)
    expected = _fused(q, k, v, g, mask, scale, drop)
    for ours, theirs in zip((out, *grads), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    s = np.where(np.broadcast_to(True if mask is None else mask, q.shape[:3] + k.shape[2:3]),
                 scale * q @ k.swapaxes(-1, -2), -np.inf)
    with np.errstate(divide="ignore"):  # log 0 for a row that sees nothing: lse is +inf there
        expected_lse = np.log(np.exp(s).sum(-1))
    np.testing.assert_allclose(lse, np.where(expected_lse == -np.inf, np.inf, expected_lse),
                               rtol=1e-12)


def test_uniform16_at_is_uniform16():
    key = 2**64 - 12345
    e = np.arange(1003, dtype=np.uint64)
    np.testing.assert_array_equal(ref.uniform16_at(e, key), ref.uniform16(1003, key))
    tile = reference_tiled.drop_tile((2, 3, 5, 7), (key, 0.3), 1, 4, 2, 6, np.float64)
    full = ref.dropout_mask((2, 3, 5, 7), 0.3, _KeyRng(key), np.float64)
    np.testing.assert_array_equal(tile, full[:, :, 1:4, 2:6])


# --- the graph op: scaled_dot_product_attention(tiled=True) ---------------------------------------


def _qkv(shape_q, shape_k, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in (shape_q, shape_k, shape_k)]


CAUSAL = np.tri(6, 6, dtype=bool)
PADDING = np.array([True, True, True, False, False, True])[None, None, None, :]
MASKS = {"none": None, "causal": CAUSAL, "padding": PADDING,
         "a row that sees nothing": np.where(np.arange(6)[:, None] == 2, False, CAUSAL)}


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
@pytest.mark.parametrize("p", [0.0, 0.4])
def test_tiled_op_equals_fused_op(backend, mask, p):
    arrays_ = _qkv((2, 2, 6, 4), (2, 2, 6, 4))
    results = []
    for tiled in (False, True):
        q, k, v = (tt.Tensor(a.copy(), requires_grad=True) for a in arrays_)
        out, w = F.scaled_dot_product_attention(q, k, v, mask, dropout_p=p,
                                                rng=np.random.default_rng(7), tiled=tiled)
        assert (w is None) == tiled
        out.backward(np.cos(np.arange(out.size)).reshape(out.shape))
        results.append([out.data, q.grad, k.grad, v.grad])
    for fused, tiled in zip(*results, strict=True):
        np.testing.assert_allclose(tiled, fused, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
def test_tiled_op_gradcheck(backend, mask, monkeypatch):
    _small_tiles(monkeypatch, 4, 4)  # 6 positions: partial tiles

    def f(q, k, v):  # the same dropout mask in every call: a fresh generator with one seed
        return F.scaled_dot_product_attention(q, k, v, mask, dropout_p=0.3,
                                              rng=np.random.default_rng(3), tiled=True)[0]

    report = gradcheck(f, *_qkv((1, 2, 6, 3), (1, 2, 6, 3), seed=1))
    assert report.passed, report


def _small_tiles(monkeypatch, block_q: int, block_k: int):
    """Make the graph op's tiled kernels cut block_q queries x block_k keys."""
    for name in ("attention_tiled_forward", "attention_tiled_backward"):
        kernel = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *args, kernel=kernel: kernel(
            *args, block_q=block_q, block_k=block_k))


def test_auto_picks_tiled_from_the_threshold(backend, monkeypatch):
    q, k, v = (tt.Tensor(a) for a in _qkv((1, 1, 3, 2), (1, 1, 5, 2)))
    assert F.scaled_dot_product_attention(q, k, v)[1] is not None
    monkeypatch.setattr(F, "TILED_MIN_T", 5)  # T_k = 5 keys reach it
    out, w = F.scaled_dot_product_attention(q, k, v)
    assert w is None
    np.testing.assert_allclose(out.data, F.scaled_dot_product_attention(q, k, v, tiled=False)[0]
                               .data, rtol=1e-12)
    out3, w3 = F.scaled_dot_product_attention(q[:, 0], k[:, 0], v[:, 0])  # one head, 3-D
    assert w3 is None and out3.shape == (1, 3, 2)


def test_memory_is_linear_in_T(backend, monkeypatch):
    """Peak memory of forward + backward, in units of one [B, H, T, T] float32 array: the fused
    kernel needs more than one (its P), the tiled one a fraction that shrinks as T grows."""
    _small_tiles(monkeypatch, 64, 128)  # tiles of 1/128 and 1/512 of [T, T]
    def peak(T, tiled):
        q, k, v = (tt.Tensor(a.astype(np.float32), requires_grad=True)
                   for a in _qkv((1, 2, T, 8), (1, 2, T, 8)))
        F.scaled_dot_product_attention(q, k, v, tiled=tiled)  # compile / warm up outside
        tracemalloc.start()
        out, _ = F.scaled_dot_product_attention(q, k, v, tiled=tiled)
        out.backward(np.ones(out.shape, np.float32))
        bytes_ = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return bytes_ / (4 * 2 * T * T)

    assert peak(1024, tiled=False) > 1
    assert peak(1024, tiled=True) < 0.25
    assert peak(2048, tiled=True) < 0.6 * peak(1024, tiled=True)


ERRORS = [
    (lambda: kernels.attention_tiled_forward(*(np.zeros((1, 1, 2, 4)),) * 3, drop=(1, 1.5)),
     ValueError, r"attention_tiled_forward: drop must be \(key, p\)"),
    (lambda: kernels.attention_tiled_forward(*(np.zeros((1, 1, 2, 4)),) * 3, block_q=0),
     ValueError, "block sizes"),
    (lambda: kernels.attention_tiled_backward(*(np.zeros((1, 1, 2, 4)),) * 5, np.zeros((1, 1, 3))),
     ValueError, r"attention_tiled_backward: lse has shape \(1, 1, 3\)"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bench_attention_section(backend, capsys):
    """`tinytransformer bench attention` at small lengths: every variant runs, the table prints,
    and the variants whose kept scores would pass the limit are left out and named."""
    from tinytransformer import bench
    from tinytransformer.bench import attention

    assert "attention" in bench.DEFAULT  # a whole `tinytransformer bench` runs it
    result = attention.measure(lengths=(32, 64), repeats=1)
    assert {(r["T"], r["variant"]) for r in result["rows"]} == {
        (T, v) for T in (32, 64) for v in ("composed", "fused", "tiled")}
    assert all(r["ms"] > 0 and r["peak_mib"] > 0 for r in result["rows"])
    assert set(result["ratios"]) == {32, 64}
    assert "tiled/fused" in capsys.readouterr().out
    assert attention.runs(8192) == ["fused", "tiled"] and attention.runs(4096) == ["fused", "tiled"]
    assert "composed at T = 8192 (5.0 GiB" in attention.format_table(
        {"rows": [dict(T=8192, variant="tiled", ms=1.0, peak_mib=1.0)], "ratios": {}})


def test_tiled_kernels_run_blas_on_one_thread_and_restore_it(monkeypatch):
    from tinytransformer.kernels import blas, blas_threads

    before = blas_threads.get_blas_threads()
    if before is None:
        pytest.skip("NumPy's OpenBLAS setter not found here")
    seen = []
    real = reference_tiled.attention_tiled_forward
    monkeypatch.setattr(reference_tiled, "attention_tiled_forward",
                        lambda *a: seen.append(blas_threads.get_blas_threads()) or real(*a))
    with kernels.use_backend("numpy"):
        kernels.attention_tiled_forward(*(np.ones((1, 1, 3, 2)),) * 3)
    assert seen == [1] and blas_threads.get_blas_threads() == before
    with blas.one_thread():
        assert blas_threads.get_blas_threads() == 1
    assert blas_threads.get_blas_threads() == before
