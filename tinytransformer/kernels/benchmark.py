"""Time each kernel on both backends at the reference model's sizes, interleaved (A B A B ...).

Reference model: batch 64, sequence 16, d_model 128, 4 heads of 32, vocab 1000, so row ops see
[B * T, C] = [1024, C] and attention sees [B, H, T, T] = [64, 4, 16, 16]. The machine is shared
and noisy, so each pair is run alternately and compared by medians.
"""

from __future__ import annotations

import time

import numpy as np

from . import fast, reference

B, H, T, D, C, V = 64, 4, 16, 32, 128, 1000


def _cases(dtype, rng):
    """(kernel, shape, args) at the reference sizes; args are the same for both backends."""
    r = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    N = B * T
    att = r(B * H * T, T)
    p_att = reference.softmax_forward(att)
    logits, target = r(N, V), rng.integers(0, V, N)
    target[rng.random(N) < 0.2] = -100  # about 20 % padding
    _, lse = reference.cross_entropy_forward(logits, target, -100, 0.1)
    x, w, b = r(N, C), r(C), r(C)
    _, mean, rstd = reference.layer_norm_forward(x, w, b, 1e-5)
    q, k, v = r(B, H, T, D), r(B, H, T, D), r(B, H, T, D)
    pad = np.broadcast_to(rng.random((B, 1, 1, T)) > 0.2, (B, H, T, T))
    drop = reference.dropout_mask((B, H, T, T), 0.1, rng, dtype)
    _, p = reference.attention_forward(q, k, v, pad, D**-0.5, drop)
    return [
        ("softmax_forward", (B * H * T, T), (att, D**-0.5)),
        ("softmax_forward", (N, V), (logits,)),
        ("softmax_backward", (B * H * T, T), (p_att, att)),
        ("log_softmax_forward", (N, V), (logits,)),
        ("log_softmax_backward", (N, V), (reference.log_softmax_forward(logits), logits)),
        ("layer_norm_forward", (N, C), (x, w, b, 1e-5)),
        ("layer_norm_backward", (N, C), (r(N, C), x, w, mean, rstd)),
        ("cross_entropy_forward", (N, V), (logits, target, -100, 0.1)),
        ("cross_entropy_backward", (N, V), (logits, lse, target, r(N), -100, 0.1)),
        ("attention_forward", (B, H, T, D), (q, k, v, pad, D**-0.5, drop)),
        ("attention_backward", (B, H, T, D), (r(B, H, T, D), q, k, v, p, D**-0.5, drop)),
        ("dropout", (N, 4 * C), (r(N, 4 * C), 0.1, rng)),
        ("relu", (N, 4 * C), (r(N, 4 * C),)),
        ("relu_backward", (N, 4 * C), (r(N, 4 * C), reference.relu(r(N, 4 * C)))),
        ("gelu", (N, 4 * C), (r(N, 4 * C),)),  # NumPy's: math.erf per element, ~60 ms
        ("gelu_backward", (N, 4 * C), (r(N, 4 * C), r(N, 4 * C))),
        ("embedding_backward", (N, C, V), (rng.integers(0, V, N), x, V)),
        ("adam_update", (V, C), (r(V, C), r(V, C), r(V, C), np.abs(r(V, C)), 1e-3, 0.9, 0.98,
                                 1e-9, 10)),  # in place: repeated calls keep updating
    ]


def _time(fn, args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def benchmark_kernels(dtype=np.float32, repeats: int = 21) -> list[dict]:
    """One dict per kernel and size: numpy_us, numba_us (medians), speedup = numpy / numba.

    The first call of each numba kernel (compilation or cache load) is not timed.
    """
    rows = []
    for name, shape, args in _cases(np.dtype(dtype).type, np.random.default_rng(0)):
        a, b = getattr(reference, name), getattr(fast, name)
        a(*args), b(*args)  # warm up: compile, page in
        ta, tb = [], []
        for _ in range(repeats):
            ta.append(_time(a, args))
            tb.append(_time(b, args))
        numpy_us, numba_us = 1e6 * np.median(ta), 1e6 * np.median(tb)
        rows.append(dict(kernel=name, shape=shape, numpy_us=numpy_us, numba_us=numba_us,
                         speedup=numpy_us / numba_us))
    rows += _bmm_rows(dtype, repeats, np.random.default_rng(1))
    rows.append(_dropout_row(dtype, repeats))
    return rows


def _bmm_rows(dtype, repeats: int, rng) -> list[dict]:
    """NumPy's matmul (BLAS; what both backends use) against compiled loops (`_bmm_loop`), at
    the attention products' sizes and at a feed-forward projection's."""
    from .fast_pointwise import _bmm_loop

    rows = []
    for N, M, K, P in ((B * H, T, D, T), (B * H, T, T, D), (1, B * T, C, 4 * C)):
        a, b = (rng.standard_normal(s).astype(dtype) for s in ((N, M, K), (K, P)))
        b = np.ascontiguousarray(np.broadcast_to(b, (N, K, P)))
        out = np.empty((N, M, P), dtype)
        _bmm_loop(a, b, out)  # compile
        np.testing.assert_allclose(out, a @ b, rtol=1e-4, atol=1e-3)
        ta, tb = [], []
        for _ in range(repeats):
            ta.append(_time(np.matmul, (a, b)))
            tb.append(_time(_bmm_loop, (a, b, out)))
        x, y = 1e6 * np.median(ta), 1e6 * np.median(tb)
        rows.append(dict(kernel="bmm", shape=(N, M, K, P), numpy_us=x, numba_us=y, speedup=x / y,
                         note="numba column: compiled loops (unused; both backends use BLAS)"))
    return rows


def _dropout_row(dtype, repeats: int) -> dict:
    """The Numba backend's dropout_mask (16-bit uniforms hashed in a compiled loop) against the
    textbook mask, rng.random(shape) < 1 - p (32-bit floats)."""
    shape, p, rng = (B * T, 4 * C), 0.1, np.random.default_rng(0)
    textbook = lambda: (rng.random(shape, dtype=dtype) < 1 - p) / np.dtype(dtype).type(1 - p)  # noqa: E731
    ours = lambda: fast.dropout_mask(shape, p, rng, dtype)  # noqa: E731
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_time(textbook, ()))
        tb.append(_time(ours, ()))
    a, b = 1e6 * np.median(ta), 1e6 * np.median(tb)
    return dict(kernel="dropout_mask", shape=shape, numpy_us=a, numba_us=b, speedup=a / b,
                note="numpy column: rng.random(shape) < 1 - p; numba column: dropout_mask")


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width text table."""
    lines = [f"{'kernel':24s} {'shape':22s} {'numpy us':>10s} {'numba us':>10s} {'speedup':>8s}"]
    for r in rows:
        lines.append(f"{r['kernel']:24s} {str(r['shape']):22s} {r['numpy_us']:10.1f} "
                     f"{r['numba_us']:10.1f} {r['speedup']:7.2f}x")
    return "\n".join(lines)
