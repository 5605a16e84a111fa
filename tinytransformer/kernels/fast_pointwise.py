"""Numba kernels that pass over their arrays once, element by element or row by row: dropout,
the embedding's scatter-add and Adam's update (formulas in reference.py). They call no helper, so
they can live apart from fast_kernels.py; the same compile flags apply.

Also here: `_bmm_loop`, a batched matmul as compiled loops. No backend uses it; `tinytransformer
bench kernels` times it against NumPy's matmul (BLAS) so that the choice of BLAS for every
product, the small attention ones included, stays a measurement.
"""

from __future__ import annotations

import numpy as np

from .fast_kernels import _jit


@_jit()
def _embedding_backward(ids, g, dw):
    """dw[v] = sum of g[n] over n with ids[n] = v.  [N], [N, C] -> dw [V, C]"""
    dw[:] = 0
    for n in range(ids.shape[0]):
        row, gn = dw[ids[n]], g[n]
        for j in range(gn.shape[0]):
            row[j] += gn[j]


@_jit()
def _adam_update(p, g, m, v, beta1, beta2, lr_t, rsqrt_c2, eps):
    """m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= lr_t m / (sqrt(v) rsqrt_c2 + ε), in place.

    lr_t = lr / (1 - β1^t), rsqrt_c2 = 1 / sqrt(1 - β2^t); 1-D arrays, read and written once.
    """
    one = np.ones(1, p.dtype)[0]
    for j in range(p.shape[0]):
        gj = g[j]
        mj = beta1 * m[j] + (one - beta1) * gj
        vj = beta2 * v[j] + (one - beta2) * gj * gj
        m[j], v[j] = mj, vj
        p[j] -= lr_t * mj / (np.sqrt(vj) * rsqrt_c2 + eps)


@_jit()
def _dropout(x, u, threshold, scale, y, mask):
    """mask = scale if u >= threshold else 0;  y = x * mask.  1-D, uint16 u"""
    zero = np.zeros(1, mask.dtype)[0]
    for j in range(mask.shape[0]):
        m = scale if u[j] >= threshold else zero
        mask[j] = m
        y[j] = x[j] * m


@_jit()
def _bmm_loop(a, b, out):
    """out[n] = a[n] @ b[n] in three loops, the innermost over out's contiguous row.

    [N, M, K], [N, K, P] -> out [N, M, P]"""
    for n in range(a.shape[0]):
        an, bn, on = a[n], b[n], out[n]
        for i in range(an.shape[0]):
            ai, oi = an[i], on[i]
            oi[:] = 0
            for k in range(ai.shape[0]):
                w, bk = ai[k], bn[k]
                for j in range(oi.shape[0]):
                    oi[j] += w * bk[j]
