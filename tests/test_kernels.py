"""Kernels: the Numba backend equals the NumPy reference, and the reference equals the formulas.

Every kernel is run on both backends on hypothesis-drawn shapes and values and the results
compared (float32 to rtol 1e-5, float64 to 1e-12); the kernels are checked against direct
evaluations of their formulas (an explicit one-hot cross-entropy, finite differences for every
backward pass) and on edge cases, on each backend. All of it also passes with NUMBA_DISABLE_JIT=1.
"""

import contextlib
import importlib
import math
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer import kernels
from tinytransformer.kernels import reference as ref

from .strategies import arrays, float_dtypes, logit_scales, masks, sizes, targets

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def assert_close(ours, theirs, size: float = 1.0):
    """Same dtypes and shapes; values within RTOL, absolute slack RTOL * the largest |value|
    (or `size`, the magnitude of the terms that cancel, when it is larger)."""
    ours, theirs = (t if isinstance(t, tuple) else (t,) for t in (ours, theirs))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        rtol = RTOL[b.dtype.type]
        size = max(size, float(np.abs(b[np.isfinite(b)]).max(initial=0)))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * size)


def run(backend: str, name: str, *args):
    with kernels.use_backend(backend):
        return getattr(kernels, name)(*args)


@contextlib.contextmanager
def block_size(n: int):
    """Make the numba backend cut rows into blocks of ~n entries, so small arrays span blocks."""
    fast = importlib.import_module("tinytransformer.kernels.fast")
    old, fast.BLOCK = fast.BLOCK, n
    try:
        yield
    finally:
        fast.BLOCK = old


# --- the twins agree ------------------------------------------------------------------------------
# Each builder draws the arguments of one kernel: builder(data, dtype) -> args.


def _softmax_forward(data, dt):
    N, C = data.draw(sizes), data.draw(sizes)
    x = data.draw(arrays((N, C), dt, data.draw(logit_scales)))
    return x, data.draw(st.sampled_from([1.0, 0.125, -3.0])), data.draw(masks((N, C)))


def _softmax_backward(data, dt):
    N, C = data.draw(sizes), data.draw(sizes)
    y = ref.softmax_forward(data.draw(arrays((N, C), dt)))
    return y, data.draw(arrays((N, C), dt)), data.draw(st.sampled_from([1.0, 0.125]))


def _log_softmax_forward(data, dt):
    N, C = data.draw(sizes), data.draw(st.integers(1, 80))  # rows >= 64 take another max path
    return (data.draw(arrays((N, C), dt, data.draw(logit_scales))),)


def _log_softmax_backward(data, dt):
    (x,) = _log_softmax_forward(data, dt)
    return ref.log_softmax_forward(x), data.draw(arrays(x.shape, dt))


def _layer_norm_forward(data, dt):
    N, C = data.draw(sizes), data.draw(sizes)
    x = data.draw(arrays((N, C), dt, data.draw(st.sampled_from([1.0, 1e-3])), offset=3.0))
    w, b = data.draw(arrays((C,), dt)), data.draw(arrays((C,), dt))
    return x, w, b, data.draw(st.sampled_from([1e-5, 1e-2]))


def _layer_norm_backward(data, dt):
    x, w, b, eps = _layer_norm_forward(data, dt)
    _, mean, rstd = ref.layer_norm_forward(x, w, b, eps)
    return data.draw(arrays(x.shape, dt)), x, w, mean, rstd


def _cross_entropy_forward(data, dt):
    N, V = data.draw(sizes), data.draw(st.integers(1, 80))
    ignore = data.draw(st.sampled_from([-100, 0]))  # 0: a padding id that is also a class id
    x = data.draw(arrays((N, V), dt, data.draw(logit_scales)))
    return x, data.draw(targets(N, V, ignore)), ignore, data.draw(st.sampled_from([0.0, 0.1]))


def _cross_entropy_backward(data, dt):
    x, t, ignore, eps = _cross_entropy_forward(data, dt)
    _, lse = ref.cross_entropy_forward(x, t, ignore, eps)
    return x, lse, t, data.draw(arrays(t.shape, dt)), ignore, eps


def _attention_forward(data, dt):
    B, H, T_q, T_k, D, D_v = (data.draw(st.integers(1, n)) for n in (2, 3, 5, 5, 6, 6))
    q, k = data.draw(arrays((B, H, T_q, D), dt)), data.draw(arrays((B, H, T_k, D), dt))
    v = data.draw(arrays((B, H, T_k, D_v), dt))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    drop = ref.dropout_mask((B, H, T_q, T_k), 0.3, rng, dt) if data.draw(st.booleans()) else None
    return q, k, v, data.draw(masks((B, H, T_q, T_k))), D**-0.5, drop


def _attention_backward(data, dt):
    q, k, v, mask, scale, drop = _attention_forward(data, dt)
    out, p = ref.attention_forward(q, k, v, mask, scale, drop)
    return data.draw(arrays(out.shape, dt)), q, k, v, p, scale, drop


def _matmul_blocked(data, dt):
    M, K, N = data.draw(sizes), data.draw(sizes), data.draw(sizes)  # edges of the 2 x 4 blocks
    batch = data.draw(st.sampled_from([(), (3,), (2, 1)]))
    return data.draw(arrays(batch + (M, K), dt)), data.draw(arrays(batch + (K, N), dt))


def _embedding_backward(data, dt):
    N, C, V = data.draw(sizes), data.draw(sizes), data.draw(st.integers(1, 9))
    ids = np.asarray(data.draw(st.lists(st.integers(0, V - 1), min_size=N, max_size=N)))
    return ids, data.draw(arrays((N, C), dt)), V  # few ids, so most of them repeat


def _adam_update(data, dt):
    shape = (data.draw(sizes), data.draw(sizes))
    p, g, m = (data.draw(arrays(shape, dt)) for _ in range(3))
    v = np.abs(data.draw(arrays(shape, dt)))
    return p, g, m, v, 1e-3, 0.9, data.draw(st.sampled_from([0.98, 0.999])), 1e-8, \
        data.draw(st.integers(1, 5000))


def _dropout(data, dt):
    shape = (data.draw(sizes), data.draw(sizes))
    p = data.draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return data.draw(arrays(shape, dt)), p, Seed(data.draw(st.integers(0, 2**32 - 1)))


def _dropout_mask(data, dt):
    x, p, seed = _dropout(data, dt)
    return x.shape, p, seed, dt


def _relu(data, dt):
    x = data.draw(arrays((data.draw(sizes), data.draw(sizes)), dt))
    x[:, ::3] = data.draw(st.sampled_from([0.0, -0.0, np.nan]))  # ties at 0, and NaN passing
    return (x,)


def _relu_backward(data, dt):
    x, = _relu(data, dt)
    return data.draw(arrays(x.shape, dt)), ref.relu(x)


def _gelu(data, dt):
    x = data.draw(arrays((data.draw(sizes), data.draw(sizes)), dt, scale=4.0))  # past the clamp
    x[:, ::5] = data.draw(st.sampled_from([0.0, np.nan]))
    return (x,)


def _gelu_backward(data, dt):
    x, = _gelu(data, dt)
    return data.draw(arrays(x.shape, dt)), x


class Seed(int):
    """An argument that each backend receives as a new np.random.Generator seeded with it."""


TWINS = {
    "softmax_forward": _softmax_forward,
    "softmax_backward": _softmax_backward,
    "log_softmax_forward": _log_softmax_forward,
    "log_softmax_backward": _log_softmax_backward,
    "layer_norm_forward": _layer_norm_forward,
    "layer_norm_backward": _layer_norm_backward,
    "cross_entropy_forward": _cross_entropy_forward,
    "cross_entropy_backward": _cross_entropy_backward,
    "attention_forward": _attention_forward,
    "attention_backward": _attention_backward,
    "matmul_blocked": _matmul_blocked,
    "embedding_backward": _embedding_backward,
    "adam_update": _adam_update,
    "dropout": _dropout,
    "dropout_mask": _dropout_mask,
    "relu": _relu,
    "gelu": _gelu,
    "gelu_backward": _gelu_backward,
    "relu_backward": _relu_backward,
}


# The size of the terms that cancel in a kernel's result, where it exceeds the result's own: layer
# norm subtracts the row mean, so float32 knows x - mean only to ~1e-7 |x| and x_hat = (x - mean)
# rstd to ~1e-7 |x| rstd (rows of 3 +- 1e-3 are drawn on purpose, so rstd reaches ~1e3).
CANCELLING = {
    "layer_norm_forward": lambda x, w, b, eps: np.abs(x).max() * np.abs(w).max()
    / np.sqrt(x.var(axis=-1).min() + eps),
    "layer_norm_backward": lambda g, x, w, mean, rstd: np.abs(g).max() * np.abs(w).max()
    * rstd.max() * max(1.0, np.abs(x).max() * rstd.max()),
    "matmul_blocked": lambda a, b: a.shape[-1] * np.abs(a).max() * np.abs(b).max(),  # K terms
}


def _in_place(name, args, backend):
    """The kernel's result, or for adam_update (which returns nothing) the arrays it updated."""
    args = [np.random.default_rng(a) if isinstance(a, Seed) else a for a in args]
    if name != "adam_update":
        return run(backend, name, *args)
    p, g, m, v = (a.copy() for a in args[:4])
    run(backend, name, p, g, m, v, *args[4:])
    return p, m, v


@pytest.mark.parametrize("name", sorted(TWINS))
@given(data=st.data(), dtype=float_dtypes, block=st.sampled_from([4, 64, 4096]))
def test_numba_equals_numpy(name, data, dtype, block):
    args = TWINS[name](data, dtype)
    with block_size(block):
        ours = _in_place(name, args, "numba")
    size = float(CANCELLING[name](*args)) if name in CANCELLING else 1.0
    assert_close(ours, _in_place(name, args, "numpy"), max(1.0, size))


# --- the kernels equal their formulas (on each backend) ------------------------------------------


def _rng_arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def test_softmax_is_exp_over_sum(backend):
    x, = _rng_arrays(0, (6, 7))
    mask = np.random.default_rng(1).random((6, 7)) < 0.7
    mask[2] = False  # a fully masked row: zeros, not NaN
    e = np.where(mask, np.exp(0.5 * x), 0)
    expected = e / np.where(e.sum(-1, keepdims=True) == 0, 1, e.sum(-1, keepdims=True))
    np.testing.assert_allclose(kernels.softmax_forward(x, 0.5, mask), expected, rtol=1e-12)
    np.testing.assert_allclose(kernels.log_softmax_forward(x), np.log(kernels.softmax_forward(x)),
                               rtol=1e-12)


def test_layer_norm_is_its_formula(backend):
    x, w, b = _rng_arrays(0, (5, 8), (8,), (8,))
    y, mean, rstd = kernels.layer_norm_forward(x + 3, w, b, 1e-5)
    np.testing.assert_allclose(mean, x.mean(-1) + 3, rtol=1e-12)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x.var(-1) + 1e-5), rtol=1e-12)
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_is_the_one_hot_formula(backend, eps):
    x, g = _rng_arrays(0, (6, 5), (6,))
    t = np.array([0, 4, -100, 2, 2, -100])
    keep = t != -100
    q = (1 - eps) * np.eye(5)[np.where(keep, t, 0)] + eps / 5  # the smoothed one-hot target
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    loss, lse = kernels.cross_entropy_forward(x, t, -100, eps)
    np.testing.assert_allclose(lse, np.log(np.exp(x).sum(-1)), rtol=1e-12)
    np.testing.assert_allclose(loss, np.where(keep, -(q * np.log(p)).sum(-1), 0), rtol=1e-12)
    dx = kernels.cross_entropy_backward(x, lse, t, g, -100, eps)
    np.testing.assert_allclose(dx, np.where(keep, g, 0)[:, None] * (p - q), atol=1e-12)


def test_attention_is_its_formula(backend):
    q, k, v = _rng_arrays(0, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    mask = np.broadcast_to(np.tril(np.ones((4, 6), bool)), (2, 3, 4, 6))
    drop = ref.dropout_mask((2, 3, 4, 6), 0.5, np.random.default_rng(1), np.float64)
    out, p = kernels.attention_forward(q, k, v, mask, 0.3, drop)
    for b in range(2):
        for h in range(3):
            s = np.where(mask[b, h], 0.3 * q[b, h] @ k[b, h].T, -np.inf)
            p_bh = np.exp(s - s.max(-1, keepdims=True))
            p_bh /= p_bh.sum(-1, keepdims=True)
            np.testing.assert_allclose(p[b, h], p_bh, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(out[b, h], (p_bh * drop[b, h]) @ v[b, h], rtol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape", [((5, 7), (7, 10)), ((2, 3, 9, 4), (2, 3, 4, 6)),
                                              ((1, 1), (1, 1)), ((4, 0), (0, 3))])
def test_matmul_blocked_is_a_times_b(backend, a_shape, b_shape):
    a, b = _rng_arrays(0, a_shape, b_shape)  # odd rows and columns past the last 2 x 4 block
    np.testing.assert_allclose(kernels.matmul_blocked(a, b), a @ b, rtol=1e-12, atol=1e-13)
    out = kernels.matmul_blocked(a.astype(np.float32), b.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (a @ b).shape


def _vjp_check(f, inputs, vjp, seed=0):
    """<g, (f(x + h u) - f(x - h u)) / 2h> == <VJP(g), u> for random g and direction u (float64)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(f(*inputs).shape)
    us = [rng.standard_normal(x.shape) for x in inputs]
    h = 1e-6
    plus = f(*(x + h * u for x, u in zip(inputs, us, strict=True)))
    minus = f(*(x - h * u for x, u in zip(inputs, us, strict=True)))
    numeric = np.sum(g * (plus - minus)) / (2 * h)
    analytic = sum(np.sum(d * u) for d, u in zip(vjp(g), us, strict=True))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def _softmax_vjp():
    x, = _rng_arrays(0, (4, 6))
    mask = np.broadcast_to(np.array([True, False, True, True, True, True]), (4, 6))
    f = lambda x: kernels.softmax_forward(x, 0.7, mask)  # noqa: E731
    return f, (x,), lambda g: (kernels.softmax_backward(f(x), g, 0.7),)


def _log_softmax_vjp():
    x, = _rng_arrays(0, (4, 6))
    y = kernels.log_softmax_forward(x)
    return kernels.log_softmax_forward, (x,), lambda g: (kernels.log_softmax_backward(y, g),)


def _layer_norm_vjp():
    x, w, b = _rng_arrays(0, (4, 6), (6,), (6,))
    _, mean, rstd = kernels.layer_norm_forward(x, w, b, 1e-5)
    f = lambda x, w, b: kernels.layer_norm_forward(x, w, b, 1e-5)[0]  # noqa: E731
    return f, (x, w, b), lambda g: kernels.layer_norm_backward(g, x, w, mean, rstd)


def _cross_entropy_vjp():
    x, = _rng_arrays(0, (5, 7))
    t = np.array([1, -100, 6, 0, 3])
    f = lambda x: kernels.cross_entropy_forward(x, t, -100, 0.1)[0]  # noqa: E731
    lse = kernels.cross_entropy_forward(x, t, -100, 0.1)[1]
    return f, (x,), lambda g: (kernels.cross_entropy_backward(x, lse, t, g, -100, 0.1),)


def _attention_vjp():
    q, k, v = _rng_arrays(0, (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3))
    mask = np.broadcast_to(np.array([True, True, False, True, True]), (2, 2, 3, 5))
    drop = ref.dropout_mask((2, 2, 3, 5), 0.3, np.random.default_rng(1), np.float64)
    f = lambda q, k, v: kernels.attention_forward(q, k, v, mask, 0.5, drop)[0]  # noqa: E731
    p = kernels.attention_forward(q, k, v, mask, 0.5, drop)[1]
    return f, (q, k, v), lambda g: kernels.attention_backward(g, q, k, v, p, 0.5, drop)


@pytest.mark.parametrize("case", [_softmax_vjp, _log_softmax_vjp, _layer_norm_vjp,
                                  _cross_entropy_vjp, _attention_vjp], ids=lambda c: c.__name__)
def test_backward_matches_finite_differences(backend, case):
    _vjp_check(*case())


# --- edge cases, on each backend ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fully_masked_rows_are_zero_not_nan(backend, dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    mask = np.broadcast_to(np.array([[True], [False], [True]]), (3, 4))
    y = kernels.softmax_forward(x, 1.0, mask)
    np.testing.assert_array_equal(y[1], 0)
    np.testing.assert_allclose(y[[0, 2]].sum(-1), 1, rtol=1e-6)
    x[2] = -np.inf  # masked by the caller instead
    np.testing.assert_array_equal(kernels.softmax_forward(x)[2], 0)
    q, kv = np.ones((1, 1, 2, 4), dtype), np.ones((1, 1, 3, 4), dtype)
    attend = np.array([[True, False, True], [False, False, False]])  # query 1 sees nothing
    out, p = kernels.attention_forward(q, kv, kv, np.broadcast_to(attend, (1, 1, 2, 3)), 1.0)
    assert not np.isnan(out).any() and np.all(p[0, 0, 1] == 0) and np.all(out[0, 0, 1] == 0)
    grads = kernels.attention_backward(np.ones_like(out), q, kv, kv, p, 1.0)
    assert all(np.isfinite(d).all() for d in grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_are_stable(backend, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, -np.inf, 1.0]], dtype)
    np.testing.assert_allclose(kernels.softmax_forward(x)[0], [1, 0, 0])
    np.testing.assert_allclose(kernels.softmax_forward(x)[2], [1 / (1 + math.e), 0,
                                                              math.e / (1 + math.e)], rtol=1e-6)
    np.testing.assert_allclose(kernels.log_softmax_forward(x[:2])[1], [-math.log(3)] * 3, rtol=1e-6)
    loss, lse = kernels.cross_entropy_forward(x[:2], np.array([1, 0]), -100, 0.1)
    np.testing.assert_allclose(lse, [1e4, -1e4 + math.log(3)], rtol=1e-6)
    np.testing.assert_allclose(loss, [0.9 * 2e4 + 0.1 * 1e4, math.log(3)], rtol=1e-6)
    dx = kernels.cross_entropy_backward(x[:2], lse, np.array([1, 0]), np.ones(2, dtype), -100, 0.1)
    assert np.isfinite(dx).all()


@pytest.mark.parametrize("C", [5, 100])  # rows of 64 or more take the integer-key max
def test_nan_propagates(backend, C):
    x = np.zeros((2, C), np.float32)
    x[1, 3] = np.nan  # so that detect_anomaly sees it, instead of a plausible number
    for y in (kernels.softmax_forward(x), kernels.log_softmax_forward(x),
              kernels.cross_entropy_forward(x, np.array([0, 0]))[0]):
        assert np.isnan(y[1]).all() and not np.isnan(y[0]).any()


def test_length_one(backend):
    np.testing.assert_array_equal(kernels.softmax_forward(np.full((3, 1), 7.0)), 1.0)
    q, k, v, g = _rng_arrays(0, (2, 3, 1, 4), (2, 3, 1, 4), (2, 3, 1, 4), (2, 3, 1, 4))
    out, p = kernels.attention_forward(q, k, v, None, 0.5)
    np.testing.assert_array_equal(p, 1.0)
    np.testing.assert_allclose(out, v, rtol=1e-15)
    dq, dk, dv = kernels.attention_backward(g, q, k, v, p, 0.5)
    np.testing.assert_allclose(dq, 0, atol=1e-15)  # a softmax over one key is constant
    np.testing.assert_allclose(dk, 0, atol=1e-15)
    np.testing.assert_allclose(dv, g, rtol=1e-15)


def test_ignored_rows_give_zero_loss_and_gradient(backend):
    x, g = _rng_arrays(0, (4, 3), (4,))
    for t, ignore in ((np.array([-100] * 4), -100), (np.array([0, 2, 0, 1]), 0)):
        loss, lse = kernels.cross_entropy_forward(x, t, ignore, 0.1)
        dx = kernels.cross_entropy_backward(x, lse, t, g, ignore, 0.1)
        np.testing.assert_array_equal(loss[t == ignore], 0)
        np.testing.assert_array_equal(dx[t == ignore], 0)
        assert np.all(loss[t != ignore] > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_is_x_times_the_normal_cdf(backend, dtype):
    # float32 on the numba backend uses a rational erf: |error| < 4e-7 (see fast_kernels.py)
    x = np.linspace(-12, 12, 20001)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    d_exact = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) + v * math.exp(-v * v / 2)
                        / math.sqrt(2 * math.pi) for v in x])
    tol = 4e-7 if dtype == np.float32 else 1e-15
    ulp = np.finfo(dtype).eps
    y = kernels.gelu(x.astype(dtype))
    dx = kernels.gelu_backward(np.ones_like(x, dtype), x.astype(dtype))
    assert np.all(np.abs(y - exact) <= tol * np.abs(x) + 2 * ulp * np.abs(exact))
    assert np.all(np.abs(dx - d_exact) <= tol * (1 + np.abs(x)) + 2 * ulp)


def test_uniform16_is_splitmix64_of_a_counter():
    # splitmix64's first outputs from state 0 (Vigna's splitmix64.c): quarters, low bits first
    z = ref.uniform16(12, key=0).view("<u8")
    assert [hex(int(v)) for v in z] == ["0xe220a8397b1dcdaf", "0x6e789e6aa1b965f4",
                                        "0x6c45d188009454f"]
    u = ref.uniform16(1_000_003, key=2**64 - 1).astype(np.float64)  # the key wraps, tail is odd
    n = u.size
    counts = np.bincount((u // 4096).astype(int), minlength=16)  # 16 equal bins: chi-square
    assert ((counts - n / 16) ** 2 / (n / 16)).sum() < 50  # 15 dof: P(> 50) ~ 1e-5
    for lag in (1, 4):  # neighbouring quarters of one hash, and the same quarter of the next
        assert abs(np.corrcoef(u[:-lag], u[lag:])[0, 1]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask(backend, dtype):
    shape, p = (1000, 1000), 0.1
    mask = kernels.dropout_mask(shape, p, np.random.default_rng(0), dtype)
    assert mask.shape == shape and mask.dtype == dtype
    assert set(np.unique(mask)) == {0, dtype(1 / (1 - p))}
    assert abs(mask.mean() - 1) < 5 * math.sqrt(p / (1 - p) / mask.size)  # E[mask] = 1
    rng = np.random.default_rng(0)  # reproducible from the seed, and the generator advances
    np.testing.assert_array_equal(kernels.dropout_mask(shape, p, rng, dtype), mask)
    assert not np.array_equal(kernels.dropout_mask(shape, p, rng, dtype), mask)
    np.testing.assert_array_equal(kernels.dropout_mask((5, 3), 0.0, rng, dtype), 1)
    np.testing.assert_array_equal(kernels.dropout_mask((5, 3), 1.0, rng, dtype), 0)
    assert kernels.dropout_mask((5, 3), 0.5, rng, dtype).shape == (5, 3)  # odd sizes too


# --- the backend switch ---------------------------------------------------------------------------


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="bogus.*numpy.*numba"):
        kernels.set_backend("bogus")


def test_use_backend_restores():
    before = kernels.get_backend()
    other = "numpy" if before == "numba" else "numba"
    with kernels.use_backend(other):
        assert kernels.get_backend() == other
    assert kernels.get_backend() == before


_PROBE = """
import sys, numpy as np
import tinytransformer
from tinytransformer import kernels
lazy = "numba" not in sys.modules
name = kernels.get_backend()
kernels.softmax_forward(np.ones((2, 3)))
print(lazy, name, "numba" in sys.modules)
"""


@pytest.mark.parametrize("env, expected", [
    ("numpy", "True numpy False"),  # and numba is never imported
    ("numba", "True numba True"),  # imported on first use, not by `import tinytransformer`
    ("bogus", "TINYTRANSFORMER_BACKEND: unknown kernel backend 'bogus'"),
])
def test_environment_variable_picks_the_backend(env, expected):
    environ = dict(os.environ, TINYTRANSFORMER_BACKEND=env)
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=environ, timeout=300)
    assert expected in done.stdout + done.stderr


def test_compile_notice_once_per_process_when_the_cache_is_cold(tmp_path, monkeypatch, capsys):
    fast = importlib.import_module("tinytransformer.kernels.fast")
    monkeypatch.setattr(fast, "_announced", False)
    monkeypatch.setattr(fast, "_seen", set())

    class Kernel:  # a stand-in for a Numba dispatcher with a disk cache in tmp_path
        stats = types.SimpleNamespace(cache_path=str(tmp_path))
        signatures = []
        py_func = ref.softmax_forward

        def __call__(self):
            return "ran"

    fresh = Kernel()
    (tmp_path / "reference.softmax_forward-21.py311.nbi").touch()  # newer than reference.py
    assert fast._run(fresh) == "ran"
    assert capsys.readouterr().err == ""
    Kernel.py_func = ref.softmax_backward  # no index: cold
    assert fast._run(Kernel()) == "ran" and fast._run(Kernel()) == "ran"
    assert capsys.readouterr().err.count(fast.NOTICE) == 1


# --- errors that name the op and the shapes -------------------------------------------------------

_x = np.zeros((2, 3))
ERRORS = [
    (lambda: kernels.softmax_forward(np.zeros((2, 3, 4))), ValueError,
     r"softmax_forward: x must be \[N, C\], got shape \(2, 3, 4\)"),
    (lambda: kernels.softmax_forward(_x, 1.0, np.ones((3, 2), bool)), ValueError,
     r"mask of shape \(3, 2\) does not broadcast to \(2, 3\)"),
    (lambda: kernels.softmax_forward(_x, 1.0, np.ones((2, 3))), TypeError, "bool"),
    (lambda: kernels.softmax_forward(np.zeros((2, 3), int)), TypeError, "float32 or float64"),
    (lambda: kernels.softmax_backward(_x, _x.astype(np.float32)), TypeError, "g is float32"),
    (lambda: kernels.layer_norm_forward(_x, np.ones(4), np.ones(3)), ValueError,
     r"w has shape \(4,\) but C = 3 from x \(2, 3\)"),
    (lambda: kernels.cross_entropy_forward(_x, np.array([0, 5])), ValueError,
     r"target\[1\] = 5 is not a class id in \[0, 3\)"),
    (lambda: kernels.attention_forward(*(np.zeros((1, 1, 2, s)) for s in (4, 5, 4))), ValueError,
     "attention_forward: k has shape"),
    (lambda: kernels.matmul_blocked(np.zeros((2, 3)), np.zeros((4, 5))), ValueError,
     r"matmul_blocked: b has shape \(4, 5\) but K = 3"),
    (lambda: kernels.matmul_blocked(np.zeros((2, 2, 3)), np.zeros((3, 4))), ValueError,
     "same leading"),
    (lambda: kernels.dropout_mask((2,), 1.5, np.random.default_rng()), ValueError, "p = 1.5"),
    (lambda: kernels.relu_backward(_x, np.zeros((3, 2))), ValueError,
     r"relu_backward: y has shape \(3, 2\), g has \(2, 3\)"),
    (lambda: kernels.gelu(np.zeros(3, int)), TypeError, "gelu: x is int64"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors_name_the_op_and_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()
