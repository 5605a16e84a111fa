"""The neural-network functions, each a fused op with its own forward and backward.

Each could be composed from the primitives in `ops.py` (the chapters do exactly that, and
`tests/test_functional.py` proves the composed and fused versions agree); here each is a
single node whose arithmetic runs in `kernels`, the NumPy reference or its Numba twin.
Names follow `torch.nn.functional`; axes are NumPy's `axis`.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .ops import expit, relu, sigmoid, tanh, where
from .tensor import Tensor, as_array, as_tensor

__all__ = [
    "linear", "softmax", "log_softmax", "relu", "tanh", "gelu", "layer_norm", "cross_entropy",
    "dropout", "embedding", "masked_fill", "where", "scaled_dot_product_attention",
    "manual_seed", "default_rng",
    "sigmoid", "silu", "rms_norm",  # added for the LLaMA-style model
]

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed the generator that dropout uses when it is not given one."""
    global _rng
    _rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    return _rng


def _flat(x: np.ndarray) -> np.ndarray:
    """[..., C] -> [N, C]; N is spelled out, since reshape(-1, 0) is ambiguous when C = 0."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _rows(x: np.ndarray, axis: int) -> tuple[np.ndarray, tuple]:
    """`x` with `axis` moved last and flattened to [N, C], and the moved shape to undo it."""
    moved = np.moveaxis(x, axis, -1)
    return _flat(np.ascontiguousarray(moved)), moved.shape


def _over_empty_axis(op: str, x: Tensor, *params: Tensor) -> Tensor:
    """An op along an axis of size 0 (as torch allows): empty out, zero gradients."""
    return Tensor.from_op(np.empty_like(x.data), (x, *params),
                          lambda g: tuple(np.zeros_like(t.data) for t in (x, *params)), op)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b.  x [..., C_in], W [C_out, C_in] (torch's layout), b [C_out] -> [..., C_out]

    One node, not three (matmul, transpose, add): all leading axes are flattened into N rows,
    so each product below is one BLAS gemm call for the whole batch, and dW comes out in W's
    own layout, with no transposed copy.
    """
    C_out, C_in = weight.shape
    if x.shape[-1] != C_in:
        raise ValueError(f"linear: input of shape {x.shape} has last axis {x.shape[-1]}, but "
                         f"the weight {weight.shape} [C_out, C_in] expects {C_in}")
    x2 = _flat(x.data)  # [..., C_in] -> [N, C_in]
    y = x2 @ weight.data.T  # [N, C_in] @ [C_in, C_out] -> [N, C_out]
    if bias is not None:
        y += bias.data

    # dL/dx = g W,  dL/dW = g^T x,  dL/db = sum of g over the N rows = 1^T g
    def backward(g):
        g = _flat(g)  # [..., C_out] -> [N, C_out]
        gx = (g @ weight.data).reshape(x.shape) if x.requires_grad else None
        gw = g.T @ x2 if weight.requires_grad else None
        # 1^T g: BLAS's matrix-vector product sums the rows 2-5x faster than g.sum(axis=0)
        gb = np.ones(len(g), g.dtype) @ g if bias is not None and bias.requires_grad else None
        return gx, gw, gb

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.from_op(y.reshape(*x.shape[:-1], C_out), parents, backward, "linear")


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j), along `axis` (stable: max subtracted)."""
    if x.shape[axis] == 0:
        return _over_empty_axis("softmax", x)
    rows, moved = _rows(x.data, axis)
    y = kernels.softmax_forward(rows)

    # dL/dx = y * (g - sum(g * y))
    def backward(g):
        dx = kernels.softmax_backward(y, _rows(g, axis)[0])
        return (np.moveaxis(dx.reshape(moved), -1, axis),)

    return Tensor.from_op(np.moveaxis(y.reshape(moved), -1, axis), (x,), backward, "softmax")


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log_softmax(x)_i = x_i - log sum_j exp(x_j), along `axis` (stable)."""
    if x.shape[axis] == 0:
        return _over_empty_axis("log_softmax", x)
    rows, moved = _rows(x.data, axis)
    y = kernels.log_softmax_forward(rows)

    # dL/dx = g - softmax(x) * sum(g)
    def backward(g):
        dx = kernels.log_softmax_backward(y, _rows(g, axis)[0])
        return (np.moveaxis(dx.reshape(moved), -1, axis),)

    return Tensor.from_op(np.moveaxis(y.reshape(moved), -1, axis), (x,), backward, "log_softmax")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x * Phi(x).

    `approximate="tanh"`: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    z = x.data
    if approximate == "none":
        # dL/dx = g * (Phi(x) + x * phi(x)),  phi the standard normal density
        return Tensor.from_op(kernels.gelu(z), (x,), lambda g: (kernels.gelu_backward(g, z),),
                              "gelu")
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        t = np.tanh(c * (z + 0.044715 * z**3))
        # dL/dx = g * (0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2))
        dt = 0.5 * z * (1 - t * t) * c * (1 + 3 * 0.044715 * z * z)
        return Tensor.from_op(0.5 * z * (1 + t), (x,),
                              lambda g: (g * (0.5 * (1 + t) + dt),), "gelu")
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """LayerNorm(x) = (x - mean) / sqrt(var + eps) * weight + bias, over the last axis.

    x [..., C], weight [C], bias [C] -> [..., C]
    """
    C = x.shape[-1]
    if weight.shape != (C,) or bias.shape != (C,):
        raise ValueError(f"layer_norm: input {x.shape} needs weight and bias of shape ({C},), "
                         f"got {weight.shape} and {bias.shape}")
    if C == 0:
        return _over_empty_axis("layer_norm", x, weight, bias)
    rows = _flat(x.data)
    y, mu, rstd = kernels.layer_norm_forward(rows, weight.data, bias.data, eps)

    # dL/dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  gw = g * weight
    # dL/dweight = sum(g * xhat),  dL/dbias = sum(g)
    def backward(g):
        dx, dw, db = kernels.layer_norm_backward(_flat(g), rows, weight.data, mu, rstd)
        return dx.reshape(x.shape), dw, db

    return Tensor.from_op(y.reshape(x.shape), (x, weight, bias), backward, "layer_norm")


def cross_entropy(logits: Tensor, target, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    """CE = -sum_v q_v log softmax(z)_v with q = (1 - eps) onehot(y) + eps / V.

    logits [..., V], target [...] (ints) -> a scalar ("mean": over non-ignored targets;
    "sum") or [...] ("none"; ignored positions give 0). If every target is ignored the
    mean is 0, not NaN.
    """
    target = as_array(target)
    V = logits.shape[-1]
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"cross_entropy: logits {logits.shape} need target of shape "
                         f"{logits.shape[:-1]}, got {target.shape}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("cross_entropy: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    # the targets' one range check of the step; the kernels, forward and backward, take them
    # as checked (kernels.CheckedIds)
    flat = kernels.check_ids("cross_entropy", target, V, ignore_index)
    z = _flat(logits.data)
    rows, lse = kernels.cross_entropy_forward(z, flat, ignore_index, label_smoothing)
    count = max(int((flat.ids != ignore_index).sum()), 1)
    scale = {"mean": 1.0 / count, "sum": 1.0, "none": None}[reduction]
    out = rows.reshape(target.shape) if scale is None else np.asarray(rows.sum() * scale,
                                                                     dtype=rows.dtype)

    # dL/dz = g * (softmax(z) - q), rows with an ignored target get 0
    def backward(g):
        g_rows = g.reshape(-1) if scale is None else np.full(len(z), g * scale, dtype=z.dtype)
        dz = kernels.cross_entropy_backward(z, lse, flat, g_rows, ignore_index, label_smoothing)
        return (dz.reshape(logits.shape),)

    return Tensor.from_op(out, (logits,), backward, "cross_entropy")


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (identity in eval)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    y, keep = kernels.dropout(x.data, p, rng or _rng)
    # dL/dx = g * keep / (1 - p)   (keep already holds 0 or 1 / (1 - p))
    return Tensor.from_op(y, (x,), lambda g: (g * keep,), "dropout")


def embedding(ids, weight: Tensor) -> Tensor:
    """out[...] = weight[ids[...]]: a row lookup.  ids [...] ints, weight [V, C] -> [..., C]"""
    ids = as_array(ids)
    V = weight.shape[0]
    checked = kernels.check_ids("embedding", ids, V)  # the ids' one range check of the step

    # dL/dweight[v] = sum of g over the positions whose id is v (scatter-add)
    def backward(g):
        return (kernels.embedding_backward(checked, g.reshape(-1, weight.shape[1]), V),)

    return Tensor.from_op(weight.data[ids], (weight,), backward, "embedding")


def masked_fill(x: Tensor, mask, value: float) -> Tensor:
    """x where mask is False, `value` where it is True (mask broadcasts against x)."""
    return where(mask, as_tensor(value, like=x), x)


def _attention_mask(mask, shape: tuple) -> np.ndarray | None:
    """Check a boolean mask (True = may attend) and broadcast it to [B, H, T_q, T_k]."""
    if mask is None:
        return None
    mask = as_array(mask)
    if mask.dtype != bool:
        raise TypeError(f"attention: mask must be boolean (True = may attend), got {mask.dtype}")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError as e:
        raise ValueError(f"attention: mask of shape {mask.shape} does not broadcast to the "
                         f"scores' shape {shape} [B, H, T_q, T_k]") from e


# From this many keys on, attention runs tiled (kernels.attention_tiled_*). Measured by
# `tinytransformer bench attention`'s code (B = 1, H = 4, D = 32, float32, forward + backward, one
# BLAS thread for both kernels, interleaved): tiled / fused time 1.07-1.18 at T = 2048, 0.34-0.40
# at T = 4096, where the fused kernel's [B, H, T, T] arrays (256 MiB each) no longer fit in cache.
# (With OpenBLAS's two threads on the loaded 2-core machine the fused kernel stalls and the tiled
# one wins from T = 256 on; that says more about the load than about the algorithms.)
TILED_MIN_T = 4096


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask=None,
                                 dropout_p: float = 0.0, training: bool = True, rng=None,
                                 tiled: bool | None = None):
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

    q [B, H, T_q, D], k [B, H, T_k, D], v [B, H, T_k, D] -> out [B, H, T_q, D] and the
    attention weights [B, H, T_q, T_k] (a NumPy array, before dropout, for plots). 3-D inputs
    [B, T, D] are one head. `mask` is boolean, True where a query may attend to a key,
    broadcasting to [B, H, T_q, T_k]; a query that may attend to nothing gets weights 0.

    `tiled`: compute it tile by tile with an online softmax, keeping no [T_q, T_k] array (the
    weights returned are then None); None (the default) chooses it from T_k >= TILED_MIN_T keys.
    Both give the same numbers, and the same dropout for the same generator state.
    """
    heads = q.ndim == 4
    if not heads:
        q, k, v = (t.reshape(t.shape[0], 1, *t.shape[1:]) for t in (q, k, v))
    B, H, Tq, D = q.shape
    if k.shape[:2] != (B, H) or k.shape[-1] != D or v.shape != k.shape:
        raise ValueError(f"attention: q {q.shape}, k {k.shape}, v {v.shape} do not fit "
                         "[B, H, T_q, D], [B, H, T_k, D], [B, H, T_k, D]")
    m = _attention_mask(mask, (B, H, Tq, k.shape[2]))
    scale = 1.0 / math.sqrt(D)
    drops = training and dropout_p > 0.0
    if k.shape[2] >= TILED_MIN_T if tiled is None else tiled:
        # dropout_p's range is checked once, by the kernel that takes it (here and below)
        drop = (kernels.dropout_key(rng or _rng) if dropout_p < 1 else 0, dropout_p) if drops \
            else None
        out, p = _attention_tiled(q, k, v, m, scale, drop), None
    else:
        drop = kernels.dropout_mask((B, H, Tq, k.shape[2]), dropout_p, rng or _rng, q.dtype) \
            if drops else None
        out, p = _attention_fused(q, k, v, m, scale, drop)
    if not heads:
        return out.reshape(B, Tq, -1), None if p is None else p[:, 0]
    return out, p


def _attention_fused(q, k, v, m, scale, drop):
    """One node that keeps the weights P [B, H, T_q, T_k] for its backward."""
    out, p = kernels.attention_forward(q.data, k.data, v.data, m, scale, drop)

    # dL/dV = P^T g,  dL/dP = g V^T,  dL/dS = softmax backward,  dL/dQ = dS K / sqrt(d_k), ...
    def backward(g):
        return kernels.attention_backward(g, q.data, k.data, v.data, p, scale, drop)

    return Tensor.from_op(out, (q, k, v), backward, "attention"), p


def _attention_tiled(q, k, v, m, scale, drop):
    """One node that keeps only out and the log-sum-exp per query [B, H, T_q]: O(B H T D)."""
    out, lse = kernels.attention_tiled_forward(q.data, k.data, v.data, m, scale, drop)

    # the same derivatives, tile by tile, each tile's P = exp(S - lse) recomputed from Q and K
    def backward(g):
        return kernels.attention_tiled_backward(g, q.data, k.data, v.data, out, lse, m, scale,
                                                drop)

    return Tensor.from_op(out, (q, k, v), backward, "attention")


# == added for the LLaMA-style model: SiLU and RMSNorm, fused (tests/test_functional.py checks
# == them against their composed forms: x * sigmoid(x), and x / sqrt(mean(x^2) + eps) * w) =====
def silu(x: Tensor) -> Tensor:
    """SiLU(x) = x * sigmoid(x)   (also called swish; the gate of LLaMA's SwiGLU feed-forward)"""
    s = expit(x.data)
    # dL/dx = g * (sigma(x) + x sigma(x) (1 - sigma(x))) = g * sigma(x) (1 + x (1 - sigma(x)))
    return Tensor.from_op(x.data * s, (x,), lambda g: (g * s * (1 + x.data * (1 - s)),), "silu")


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-6) -> Tensor:
    """RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight, over the last axis.

    x [..., C], weight [C] -> [..., C]. Layer norm without the mean: no centring, no bias.
    """
    C = x.shape[-1]
    if weight.shape != (C,):
        raise ValueError(f"rms_norm: input {x.shape} needs a weight of shape ({C},), "
                         f"got {weight.shape}")
    rstd = 1 / np.sqrt(np.mean(x.data * x.data, axis=-1, keepdims=True) + eps)  # [..., 1]
    xhat = x.data * rstd  # [..., C]

    # dL/dx = rstd * (gw - xhat * mean(gw * xhat)),  gw = g * weight;  dL/dweight = sum(g * xhat)
    def backward(g):
        gw = g * weight.data
        dx = rstd * (gw - xhat * np.mean(gw * xhat, axis=-1, keepdims=True))
        dw = (g * xhat).reshape(-1, C).sum(axis=0) if weight.requires_grad else None
        return dx, dw

    return Tensor.from_op(xhat * weight.data, (x, weight), backward, "rms_norm")
