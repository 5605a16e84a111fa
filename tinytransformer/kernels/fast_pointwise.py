"""Numba kernels that pass over their arrays once, element by element or row by row: layer norm,
relu, the embedding's scatter-add and Adam's update (formulas in reference.py). They call no
helper of fast_kernels.py, so they can live apart from it (see its docstring on the disk cache);
the same compile flags apply. Dropout's mask is in fast_kernels.py, beside the tiled attention
that regenerates it with the same hash.
"""

from __future__ import annotations

import numpy as np

from .fast_kernels import _ONE, _ZERO, _jit


@_jit()
def _embedding_backward(ids, g, dw):
    """dw[v] = sum of g[n] over n with ids[n] = v.  [N], [N, C] -> dw [V, C]"""
    dw[:] = 0
    for n in range(ids.shape[0]):
        row, gn = dw[ids[n]], g[n]
        for j in range(gn.shape[0]):
            row[j] += gn[j]


@_jit()
def _layer_norm_forward(x, w, b, eps, inv_c, y, mean, rstd):
    """y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps); each row read once from memory.

    [N, C], [C], [C] -> y [N, C], mean [N], rstd [N]
    """
    for n in range(x.shape[0]):
        xn, yn = x[n], y[n]
        s = _ZERO
        for j in range(xn.shape[0]):
            s += xn[j]
        mu = s * inv_c
        v = _ZERO
        for j in range(xn.shape[0]):  # the row is in L1 now: a second pass costs no memory traffic
            v += (xn[j] - mu) * (xn[j] - mu)
        r = _ONE / np.sqrt(v * inv_c + eps)
        for j in range(xn.shape[0]):
            yn[j] = (xn[j] - mu) * r * w[j] + b[j]
        mean[n] = mu
        rstd[n] = r


@_jit()
def _layer_norm_backward(g, x, w, mean, rstd, inv_c, dx, dw, db):
    """dx = rstd (g w - mean(g w) - x_hat mean(g w x_hat)), dw = sum g x_hat, db = sum g.

    [N, C], [N, C], [C], [N], [N] -> dx [N, C], dw [C], db [C]
    """
    dw[:] = 0
    db[:] = 0
    for n in range(x.shape[0]):
        gn, xn, dxn = g[n], x[n], dx[n]
        mu = mean[n]
        r = rstd[n]
        a = _ZERO
        c = _ZERO
        for j in range(xn.shape[0]):
            x_hat = (xn[j] - mu) * r
            a += gn[j] * w[j]
            c += gn[j] * w[j] * x_hat
            dw[j] += gn[j] * x_hat
            db[j] += gn[j]
        a *= inv_c
        c *= inv_c
        for j in range(xn.shape[0]):
            dxn[j] = r * (gn[j] * w[j] - a - (xn[j] - mu) * r * c)


@_jit()
def _relu(x, y):
    """y = max(x, 0); NaN stays NaN, as in np.maximum.  1-D"""
    zero = np.zeros(1, x.dtype)[0]
    for j in range(x.shape[0]):
        y[j] = zero if x[j] < zero else x[j]


@_jit()
def _relu_backward(g, y, dx):
    """dx = g * [y > 0] (a product, so NaN in g stays NaN, as in NumPy).  1-D"""
    zero, one = np.zeros(1, g.dtype)[0], np.ones(1, g.dtype)[0]
    for j in range(g.shape[0]):
        dx[j] = g[j] * (one if y[j] > zero else zero)


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
