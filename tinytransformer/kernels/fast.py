"""The Numba backend: the functions of reference.py, same arguments, same results (the shapes
and formulas are documented there and in kernels/__init__.py).

Each function makes its arrays C-contiguous and writeable (so that Numba compiles one version per
dtype, not one per memory layout), converts scalars to the arrays' dtype (float32 math stays
float32, as in NumPy) and calls a kernel of fast_kernels.py or fast_pointwise.py; matrix
products stay with NumPy's BLAS (`matmul_blocked`, fast_matmul.py, is the compiled alternative
that lost to it). Kernels compile on their first call and are cached on disk; `_run` prints one
notice per process when that cache is cold. Dropout masks are bit for bit the NumPy backend's:
both hash a counter with a key drawn from the same generator (reference.uniform16).
"""

from __future__ import annotations

import glob
import inspect
import math
import os
import sys

import numpy as np

from . import fast_kernels as _k
from . import fast_matmul as _m
from . import fast_pointwise as _p
from . import reference

BLOCK = 4096  # elements per block of rows: short rows still give the exp loop 4096 entries
NOTICE = "tinytransformer: compiling Numba kernels (first run only, cached afterwards)..."
_announced = False
_seen: set = set()


def _cache_is_fresh(kernel) -> bool:
    """True if the kernel's on-disk index exists and is newer than its source file (or if the
    kernel has no disk cache, so there is nothing to announce)."""
    if kernel.stats.cache_path is None:
        return True
    source = os.path.getmtime(inspect.getsourcefile(kernel.py_func))
    pattern = os.path.join(kernel.stats.cache_path, f"*.{kernel.py_func.__name__}-*.nbi")
    return any(os.path.getmtime(f) >= source for f in glob.glob(pattern))


def _run(kernel, *args):
    """kernel(*args); before its first call, warn once per process if Numba must compile."""
    global _announced
    if kernel not in _seen:
        _seen.add(kernel)
        jitted = hasattr(kernel, "stats")  # False under NUMBA_DISABLE_JIT=1
        if jitted and not _announced and not kernel.signatures and not _cache_is_fresh(kernel):
            _announced = True
            print(NOTICE, file=sys.stderr, flush=True)
    return kernel(*args)


def _c(a, dtype=None) -> np.ndarray:
    """`a` as a C-contiguous, writeable array (a copy only if it is not one already)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")


def _reduced(a, shape, dtype) -> np.ndarray:
    """A mask (or dropout) broadcastable to `shape`, with its broadcast axes but the last cut to 1.

    None -> ones of shape [1, ..., 1, shape[-1]]. The kernels read a length-1 axis at index 0 and
    keep the last axis whole, so that their inner loops stay contiguous and vectorise.
    """
    if a is None:
        return np.ones((1,) * (len(shape) - 1) + shape[-1:], dtype)
    a = np.asarray(a)
    a = a if a.shape == shape else np.broadcast_to(a, shape)
    cut = tuple(slice(0, 1) if st == 0 else slice(None) for st in a.strides[:-1])
    return _c(a[cut], dtype)


def _rows(C: int) -> int:
    """Rows per block for rows of length C."""
    return max(1, BLOCK // max(C, 1))


def softmax_forward(x, scale=1.0, mask=None):
    x = _c(x)
    y = np.empty_like(x)
    mask_r, rows = _reduced(mask, x.shape, bool), _rows(x.shape[1])
    _run(_k._softmax_forward, x, mask_r, mask is not None, x.dtype.type(scale), y, rows)
    return y


def softmax_backward(y, g, scale=1.0):
    y, g = _c(y), _c(g)
    dx = np.empty_like(y)
    _run(_k._softmax_backward, y, g, y.dtype.type(scale), dx)
    return dx


def log_softmax_forward(x):
    x = _c(x)
    y = np.empty_like(x)
    _run(_k._log_softmax_forward, x, y, _rows(x.shape[1]))
    return y


def log_softmax_backward(y, g):
    y, g = _c(y), _c(g)
    dx = np.empty_like(y)
    _run(_k._log_softmax_backward, y, g, dx, _rows(y.shape[1]))
    return dx


def layer_norm_forward(x, w, b, eps):
    x = _c(x)
    N, C = x.shape
    y, mean, rstd = np.empty_like(x), np.empty(N, x.dtype), np.empty(N, x.dtype)
    t = x.dtype.type
    _run(_p._layer_norm_forward, x, _c(w), _c(b), t(eps), t(1 / C), y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g, x, w, mean, rstd):
    g, x = _c(g), _c(x)
    N, C = x.shape
    dx = np.empty_like(x)
    dw, db = np.empty(C, x.dtype), np.empty(C, x.dtype)
    _run(_p._layer_norm_backward, g, x, _c(w), _c(mean), _c(rstd), x.dtype.type(1 / C), dx, dw, db)
    return dx, dw, db


def cross_entropy_forward(logits, target, ignore_index=-100, label_smoothing=0.0):
    x = _c(logits)
    m, log_s, mean = (np.empty(x.shape[0], x.dtype) for _ in range(3))
    _run(_k._logsumexp_parts, x, m, log_s, mean)  # the [N, V] work; the rest is [N]
    loss = reference._smoothed_nll(x, target, m, log_s, mean, ignore_index, label_smoothing)
    return loss, m + log_s


def cross_entropy_backward(logits, lse, target, g_rows, ignore_index=-100, label_smoothing=0.0):
    x = _c(logits)
    t = x.dtype.type
    dx = np.empty_like(x)
    eps = (t(1 - label_smoothing), t(label_smoothing / x.shape[1]))
    args = (_c(lse), _c(target, np.int64), _c(g_rows), ignore_index, *eps, dx)
    _run(_k._cross_entropy_backward, x, *args)
    return dx


def attention_forward(q, k, v, mask=None, scale=1.0, drop=None):
    s = _c(np.matmul(q, k.swapaxes(-1, -2)))  # [B, H, T_q, T_k] scores, by BLAS
    pd = s if drop is None else np.empty_like(s)  # p * drop
    mask_r, drop_r = _reduced(mask, s.shape, bool), _reduced(drop, s.shape, s.dtype)
    _run(_k._attention_probs, s, mask_r, drop_r, drop is not None, s.dtype.type(scale), pd)
    return np.matmul(pd, v), s  # [B, H, T_q, D_v], p


def attention_backward(g, q, k, v, p, scale=1.0, drop=None):
    # dV = PD^T G,  dP = G V^T,  dS = P (dP drop - rowsum(dP drop P)),  dQ = s dS K,  dK = s dS^T Q
    p = _c(p)
    ds = _c(np.matmul(g, v.swapaxes(-1, -2)))  # [B, H, T_q, T_k]: dP now, dS after the kernel
    pd = p if drop is None else np.empty_like(p)
    drop_r = _reduced(drop, p.shape, p.dtype)
    _run(_k._attention_grad, ds, p, drop_r, drop is not None, p.dtype.type(scale), pd)
    dq, dk = np.matmul(ds, k), np.matmul(ds.swapaxes(-1, -2), q)
    return dq, dk, np.matmul(pd.swapaxes(-1, -2), g)


def matmul_blocked(a, b):
    (M, K), P, N = a.shape[-2:], b.shape[-1], math.prod(a.shape[:-2])
    b_t = _c(b.swapaxes(-1, -2)).reshape(N, P, K)  # each output: a row of a . a row of b^T
    out = np.empty(a.shape[:-1] + (P,), a.dtype)
    _run(_m._matmul_blocked, _c(a).reshape(N, M, K), b_t, out.reshape(N, M, P))
    return out


def _elementwise(kernel, *arrays):
    """kernel(*arrays flattened, out flattened): an elementwise pass; out has the arrays' shape."""
    arrays = [_c(a).reshape(-1) for a in arrays]
    out = np.empty_like(arrays[0])
    _run(kernel, *arrays, out)
    return out


def gelu(x):
    return _elementwise(_k._gelu, x).reshape(x.shape)


def gelu_backward(g, x):
    return _elementwise(_k._gelu_backward, g, x).reshape(x.shape)


def relu(x):
    x = _c(x)
    y = np.empty_like(x)
    _run(_p._relu, x.reshape(-1), y.reshape(-1))
    return y


def relu_backward(g, y):
    g, y = _c(g), _c(y)
    dx = np.empty_like(g)
    _run(_p._relu_backward, g.reshape(-1), y.reshape(-1), dx.reshape(-1))
    return dx


def embedding_backward(ids, g, num_embeddings):
    g = _c(g)
    dw = np.empty((num_embeddings, g.shape[1]), g.dtype)
    _run(_p._embedding_backward, _c(ids, np.int64), g, dw)
    return dw


def adam_update(p, g, m, v, lr, beta1, beta2, eps, step):
    t = p.dtype.type
    lr_t, rsqrt_c2 = lr / (1 - beta1**step), 1 / math.sqrt(1 - beta2**step)
    flat = (a.reshape(-1) for a in (p, _c(g, p.dtype), m, v))  # views: p, m, v are contiguous
    _run(_p._adam_update, *flat, t(beta1), t(beta2), t(lr_t), t(rsqrt_c2), t(eps))


dropout_key = reference.dropout_key  # one draw of the generator: the same on both backends


def dropout_mask(shape, p, rng, dtype=np.float32):
    mask = np.empty(shape, dtype)
    if p >= 1:
        mask[...] = 0
        return mask
    key, threshold = np.uint64(reference.dropout_key(rng)), np.uint64(round(p * 65536))
    with np.errstate(over="ignore"):  # the hash multiplies mod 2^64 (NumPy warns if not compiled)
        _run(_k._dropout_mask, key, threshold, mask.dtype.type(1 / (1 - p)), mask.reshape(-1))
    return mask


def dropout(x, p, rng):
    mask = dropout_mask(x.shape, p, rng, x.dtype)
    return np.multiply(x, mask), mask  # as fast as applying it in the kernel (measured)
