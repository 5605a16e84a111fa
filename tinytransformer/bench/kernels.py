"""Time each kernel on both backends at the reference model's sizes, interleaved (A B, B A, ...).

Reference model (step.py): batch 64, sequence 16, d_model 128, 4 heads of 32, vocab 1000, so row
ops see [B * T, C] = [1024, C] and attention sees [B, H, T, T] = [64, 4, 16, 16]. The machine is
shared and noisy, so each pair is run alternately and compared by medians. Two rows race other
pairs: NumPy's matmul (BLAS) against the compiled `matmul_blocked`, and the textbook dropout mask
against the Numba backend's.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..kernels import fast, reference
from .step import B, C, H, T, V
from .timing import interleaved

D = C // H  # 32: each head's width
# [N, M, K] @ [N, K, P]: Q K^T and P V of attention ([B H, T, D] @ [B H, D, T], [B H, T, T] @
# [B H, T, D]), and a feed-forward projection ([B T, C] @ [C, 4 C])
MATMUL_SHAPES = ((B * H, T, D, T), (B * H, T, T, D), (1, B * T, C, 4 * C))


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


def _row(kernel, shape, numpy_fn, numba_fn, repeats: int, note: str | None = None) -> dict:
    """numpy_us, numba_us: medians of the two functions timed in alternation (after one call
    each, untimed: compilation or the cache load); speedup = numpy / numba."""
    t = interleaved({"numpy": numpy_fn, "numba": numba_fn}, repeats, warmup=1)
    row = dict(kernel=kernel, shape=shape, numpy_us=1e6 * t["numpy"], numba_us=1e6 * t["numba"],
               speedup=t["numpy"] / t["numba"])
    return row if note is None else {**row, "note": note}


def benchmark_kernels(dtype=np.float32, repeats: int = 21) -> list[dict]:
    """One dict per kernel and size: numpy_us, numba_us (medians), speedup = numpy / numba."""
    rows = [_row(name, shape, partial(getattr(reference, name), *args),
                 partial(getattr(fast, name), *args), repeats)
            for name, shape, args in _cases(np.dtype(dtype).type, np.random.default_rng(0))]
    return rows + matmul_race(dtype, repeats) + [_dropout_row(dtype, repeats)]


def matmul_race(dtype=np.float32, repeats: int = 21, shapes=MATMUL_SHAPES) -> list[dict]:
    """NumPy's matmul (BLAS, what both backends use) against the compiled `matmul_blocked`, at
    each [N, M, K] @ [N, K, P] of `shapes` (default: attention's products and a feed-forward
    projection's); the same inputs for both, and the same result (checked)."""
    rng, rows = np.random.default_rng(1), []
    for N, M, K, P in shapes:
        a, b = (rng.standard_normal(s).astype(dtype) for s in ((N, M, K), (K, P)))
        b = np.ascontiguousarray(np.broadcast_to(b, (N, K, P)))
        np.testing.assert_allclose(fast.matmul_blocked(a, b), a @ b, rtol=1e-4, atol=1e-3)
        rows.append(_row("matmul_blocked", (N, M, K, P), partial(np.matmul, a, b),
                         partial(fast.matmul_blocked, a, b), repeats,
                         note="numpy column: np.matmul (BLAS); numba column: matmul_blocked"))
    return rows


def _dropout_row(dtype, repeats: int) -> dict:
    """The Numba backend's dropout_mask (16-bit uniforms hashed in a compiled loop) against the
    textbook mask, rng.random(shape) < 1 - p (32-bit floats)."""
    shape, p, rng = (B * T, 4 * C), 0.1, np.random.default_rng(0)
    textbook = lambda: (rng.random(shape, dtype=dtype) < 1 - p) / np.dtype(dtype).type(1 - p)  # noqa: E731
    ours = lambda: fast.dropout_mask(shape, p, rng, dtype)  # noqa: E731
    return _row("dropout_mask", shape, textbook, ours, repeats,
                note="numpy column: rng.random(shape) < 1 - p; numba column: dropout_mask")


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width text table."""
    lines = [f"{'kernel':24s} {'shape':22s} {'numpy us':>10s} {'numba us':>10s} {'speedup':>8s}"]
    for r in rows:
        lines.append(f"{r['kernel']:24s} {str(r['shape']):22s} {r['numpy_us']:10.1f} "
                     f"{r['numba_us']:10.1f} {r['speedup']:7.2f}x")
    return "\n".join(lines)


def measure() -> list[dict]:
    """Each kernel, NumPy reference vs Numba, at the reference model's sizes."""
    rows = benchmark_kernels()
    print("kernels, NumPy vs Numba (float32, median, interleaved):\n" + format_table(rows))
    return rows
