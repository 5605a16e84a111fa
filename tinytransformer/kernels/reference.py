"""NumPy reference kernels: one line per formula, the twins every Numba kernel is tested against.

Arrays in, arrays out, no autograd. Every function keeps the input's dtype (float32 or
float64); the dispatch layer in `kernels/__init__.py` has already checked shapes and dtypes.
A mask is boolean, True = "may attend", and may be a broadcast view.
"""

from __future__ import annotations

import math

import numpy as np


def _softmax(z: np.ndarray) -> np.ndarray:
    """softmax(z) over the last axis; a row of only -inf becomes all zeros (not NaN)."""
    m = z.max(axis=-1, keepdims=True)
    e = np.exp(z - np.where(m == -np.inf, 0, m))  # exp(-inf - 0) = 0 in a fully masked row
    s = e.sum(axis=-1, keepdims=True)
    return e / np.where(s == 0, 1, s)


def softmax_forward(x: np.ndarray, scale: float = 1.0, mask: np.ndarray | None = None):
    """y = softmax(scale * x) over the last axis, 0 where mask is False.  [N, C] -> [N, C]"""
    z = scale * x if mask is None else np.where(mask, scale * x, -np.inf)
    return _softmax(z)


def softmax_backward(y: np.ndarray, g: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """dx = scale * y * (g - sum(g * y)).  [N, C], [N, C] -> [N, C]"""
    # dL/dz_i = y_i (g_i - sum_j g_j y_j), and z = scale * x
    return scale * y * (g - (g * y).sum(axis=-1, keepdims=True))


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """y = x - logsumexp(x) over the last axis.  [N, C] -> [N, C]"""
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def log_softmax_backward(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dx = g - exp(y) * sum(g).  [N, C], [N, C] -> [N, C]"""
    return g - np.exp(y) * g.sum(axis=-1, keepdims=True)


def layer_norm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float):
    """y = (x - mean) / sqrt(var + eps) * w + b over the last axis.

    [N, C], [C], [C] -> y [N, C], mean [N], rstd [N]
    """
    mean = x.mean(axis=-1)
    rstd = 1 / np.sqrt(((x - mean[:, None]) ** 2).mean(axis=-1) + eps)  # biased variance, as torch
    y = (x - mean[:, None]) * rstd[:, None] * w + b
    return y, mean, rstd


def layer_norm_backward(g, x, w, mean, rstd):
    """dx = rstd (g w - mean(g w) - x_hat mean(g w x_hat)), dw = sum_n g x_hat, db = sum_n g.

    [N, C], [N, C], [C], [N], [N] -> [N, C], [C], [C]
    """
    x_hat = (x - mean[:, None]) * rstd[:, None]
    gw = g * w
    dx = rstd[:, None] * (
        gw - gw.mean(axis=-1, keepdims=True) - x_hat * (gw * x_hat).mean(axis=-1, keepdims=True)
    )
    return dx, (g * x_hat).sum(axis=0), g.sum(axis=0)


def cross_entropy_forward(logits, target, ignore_index: int = -100, label_smoothing: float = 0.0):
    """loss_n = (1 - eps)(lse_n - x[n, t_n]) + eps (lse_n - mean_v x[n, v]); 0 where t_n is ignored.

    [N, V], [N] int64 -> loss_rows [N], lse [N]; no one-hot is built.
    """
    m = logits.max(axis=-1)  # lse = m + log_s: the shift keeps exp from overflowing
    log_s = np.log(np.exp(logits - m[:, None]).sum(axis=-1))
    return _smoothed_nll(logits, target, m, log_s, logits.mean(axis=-1), ignore_index,
                         label_smoothing), m + log_s


def _smoothed_nll(logits, target, m, log_s, mean, ignore_index, eps):
    """(1 - eps)(lse - x_t) + eps (lse - mean) per row, lse = m + log_s; 0 where t is ignored.

    lse - x_t is computed as (m - x_t) + log_s: at logits of 1e4, float32 knows lse only to 1e-3.
    """
    keep = target != ignore_index
    x_t = np.take_along_axis(logits, np.where(keep, target, 0)[:, None], axis=-1)[:, 0]
    nll = (1 - eps) * (m - x_t + log_s)
    if eps == 0:  # a logit of -inf makes mean -inf, and 0 * inf would be NaN (torch: finite)
        return np.where(keep, nll, 0)
    return np.where(keep, nll + eps * (m - mean + log_s), 0)


def cross_entropy_backward(logits, lse, target, g_rows, ignore_index=-100, label_smoothing=0.0):
    """dlogits = g_n (softmax(x_n) - (1 - eps) onehot(t_n) - eps / V); 0 where t_n is ignored.

    [N, V], [N], [N], [N] -> [N, V]
    """
    N, V = logits.shape
    eps = label_smoothing
    g = np.where(target != ignore_index, g_rows, 0)[:, None]  # [N, 1]
    dx = g * (np.exp(logits - lse[:, None]) - eps / V)
    rows = np.flatnonzero(target != ignore_index)
    dx[rows, target[rows]] -= (1 - eps) * g[rows, 0]
    return dx


def attention_forward(q, k, v, mask=None, scale=1.0, drop=None):
    """Attention(Q, K, V) = softmax(scale Q K^T, masked) V, with the dropout mask applied to P.

    [B, H, T_q, D], [B, H, T_k, D], [B, H, T_k, D_v], mask [B, H, T_q, T_k]
    -> out [B, H, T_q, D_v], p [B, H, T_q, T_k] (before dropout)
    """
    s = q @ k.swapaxes(-1, -2)  # [B, H, T_q, T_k]
    p = _softmax(scale * s if mask is None else np.where(mask, scale * s, -np.inf))
    return (p if drop is None else p * drop) @ v, p


def attention_backward(g, q, k, v, p, scale=1.0, drop=None):
    """The vector-Jacobian product of attention_forward.  g [B, H, T_q, D_v] ... -> dq, dk, dv"""
    # dV = P_d^T G,  dP = (G V^T) * drop,  dS = P (dP - rowsum(dP P)),  dQ = s dS K,  dK = s dS^T Q
    p_d = p if drop is None else p * drop  # [B, H, T_q, T_k]
    dv = p_d.swapaxes(-1, -2) @ g  # [B, H, T_k, D_v]
    dp = g @ v.swapaxes(-1, -2)  # [B, H, T_q, T_k]
    dp = dp if drop is None else dp * drop
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    return scale * (ds @ k), scale * (ds.swapaxes(-1, -2) @ q), dv


def matmul_blocked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """out = a @ b, one block of 2 rows x 4 columns of out at a time (fast_matmul.py's blocks):

    out[i:i+2, j:j+4] = a[i:i+2, :] @ b[:, j:j+4].  [..., M, K], [..., K, N] -> [..., M, N]
    """
    out = np.empty(a.shape[:-1] + b.shape[-1:], a.dtype)
    for i in range(0, a.shape[-2], 2):
        for j in range(0, b.shape[-1], 4):
            out[..., i:i + 2, j:j + 4] = a[..., i:i + 2, :] @ b[..., :, j:j + 4]
    return out


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; this is slow, and exact


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF, in x's dtype."""
    return (0.5 * (1.0 + _erf(x / math.sqrt(2.0)))).astype(x.dtype)


def gelu(x: np.ndarray) -> np.ndarray:
    """y = x Phi(x).  [...] -> [...]"""
    return x * _normal_cdf(x)


def gelu_backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx = g (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).  [...], [...] -> [...]"""
    return g * (_normal_cdf(x) + x * np.exp(-0.5 * x * x) / x.dtype.type(math.sqrt(2 * math.pi)))


def dropout_mask(shape, p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """mask = (u >= p) / (1 - p), u ~ U[0, 1) in 16-bit steps (`uniform16`): E[mask] = 1.

    p is rounded to a multiple of 2^-16 (0.1 -> 0.1000061), which shifts E[mask] by < 1e-5.
    """
    if p >= 1:
        return np.zeros(shape, dtype)
    u = uniform16(int(np.prod(shape, dtype=np.int64)), dropout_key(rng)).reshape(shape)
    mask = np.empty(shape, dtype)
    np.multiply(u >= round(p * 65536), np.dtype(dtype).type(1 / (1 - p)), out=mask)
    return mask


def dropout_key(rng: np.random.Generator) -> int:
    """One raw 64-bit draw of the (seeded, resumable) generator: the key of one dropout mask."""
    return int(rng.bit_generator.random_raw())


# splitmix64 (Steele, Lea and Flood 2014), as a hash of a counter: z_i = key + (i + 1) * GOLDEN
GOLDEN, MIX1, MIX2 = (np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9,
                                              0x94D049BB133111EB))
SHIFT1, SHIFT2, SHIFT3 = np.uint64(30), np.uint64(27), np.uint64(31)


def splitmix64(i: np.ndarray, key: int) -> np.ndarray:
    """z_i = splitmix64 of counter i under `key`: mix(key + (i + 1) GOLDEN).  uint64 [...]"""
    z = i + np.uint64(1)
    z *= GOLDEN
    z += np.uint64(key)
    z ^= z >> SHIFT1
    z *= MIX1
    z ^= z >> SHIFT2
    z *= MIX2
    z ^= z >> SHIFT3
    return z


def uniform16(n: int, key: int) -> np.ndarray:
    """n integers uniform in [0, 65536): the four 16-bit quarters of splitmix64(key, i), i = 0, 1..

    A counter-based generator, as Philox is for JAX and CUDA: entry j depends on nothing but key
    and j, so a compiled loop makes the same bits without a generator's state, four at a time
    (about 3x faster than drawing them with the Generator here).  -> uint16 [n]
    """
    z = splitmix64(np.arange(-(-n // 4), dtype=np.uint64), key)
    return z.astype("<u8", copy=False).view("<u2")[:n]  # quarter r of z_i is entry 4 i + r


def uniform16_at(e: np.ndarray, key: int) -> np.ndarray:
    """Entries `e` (uint64 flat indices, any shape) of uniform16(n, key): quarter e % 4 of
    splitmix64(key, e // 4). A tile of a mask, made without the rest of it.  -> int64 [e.shape]"""
    z = splitmix64(e >> np.uint64(2), key)
    return ((z >> ((e & np.uint64(3)) * np.uint64(16))) & np.uint64(0xFFFF)).astype(np.int64)


def dropout(x: np.ndarray, p: float, rng: np.random.Generator):
    """y = x * mask, with mask = dropout_mask(x.shape, p, rng) (0 or 1/(1-p)).  -> y, mask"""
    mask = dropout_mask(x.shape, p, rng, x.dtype)
    return x * mask, mask


def relu(x: np.ndarray) -> np.ndarray:
    """y = max(x, 0).  [...] -> [...]"""
    return np.maximum(x, 0)


def relu_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = g [y > 0], with y = relu(x) (x > 0 exactly where y > 0).  [...], [...] -> [...]"""
    return g * (y > 0)


def embedding_backward(ids: np.ndarray, g: np.ndarray, num_embeddings: int) -> np.ndarray:
    """dW[v] = sum of g[n] over the rows n with ids[n] = v: a scatter-add.  [N], [N, C] -> [V, C]"""
    dw = np.zeros((num_embeddings, g.shape[1]), g.dtype)
    np.add.at(dw, ids, g)  # dw[ids] += g would keep only one of repeated ids
    return dw


def adam_update(p, g, m, v, lr: float, beta1: float, beta2: float, eps: float, step: int) -> None:
    """One Adam step on p, m, v in place (torch.optim.Adam's formula; t = step, from 1):

    m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
    p = p - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)
    """
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    p -= lr / (1 - beta1**step) * m / (np.sqrt(v) / np.sqrt(1 - beta2**step) + eps)
