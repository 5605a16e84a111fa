"""Kernels: the Transformer's hot loops on raw NumPy arrays, in two interchangeable backends.

    numpy   reference.py   one line per formula: the definition the other backend is tested against
    numba   fast.py        compiled loops (fast_kernels.py, fast_pointwise.py, fast_matmul.py),
                           cached on disk

Tiled attention (an online softmax, no [T_q, T_k] array stored) has its own pair of files,
reference_tiled.py and fast_tiled.py, dispatched the same way.

Choose with `set_backend("numpy" | "numba")` (or `with use_backend(...)`), with the environment
variable TINYTRANSFORMER_BACKEND, or take the default: numba when it is installed, else numpy.
The numba backend is imported on first use and each kernel compiles on its first call, so
`import tinytransformer` stays fast and a command compiles only what it runs.

Each function below checks its arguments (checks.py: an error names the op and the shapes) and
calls the active backend. Arrays are float32 or float64 and results keep that dtype; a mask is
boolean, True = "may attend", and may be a broadcast view. Matrix products are NumPy's matmul
(BLAS) on both backends; `matmul_blocked` is the compiled alternative, which nothing calls but
`tinytransformer bench kernels` (timed there against BLAS) and chapter 10.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import warnings

import numpy as np

from . import blas
from .checks import (  # check_ids, CheckedIds, OutOfRange: also for functional
    CheckedIds,
    OutOfRange,  # noqa: F401
    alike,
    check,
    check_alike,
    check_ids,  # noqa: F401
    check_mask,
    check_targets,
    checked_ids,
)
from .reference_tiled import BLOCK_K, BLOCK_Q

BACKENDS = ("numpy", "numba")
_MODULES = {"numpy": "reference", "numba": "fast"}
_active = {"name": None, "module": None, "chosen": False}  # chosen: by set_backend or the env var


def _valid(name, where: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{where}: unknown kernel backend {name!r}; valid names: {BACKENDS}")
    if name == "numba" and importlib.util.find_spec("numba") is None:
        raise ImportError(f"{where}: backend 'numba' needs the numba package (pip install numba)")
    return name


def set_backend(name: str) -> None:
    """Run every kernel on backend `name` ("numpy" or "numba") from now on."""
    _active.update(name=_valid(name, "set_backend"), module=None, chosen=True)


def get_backend() -> str:
    """The active backend: set_backend's, else $TINYTRANSFORMER_BACKEND's, else the default."""
    if _active["name"] is None:
        env = os.environ.get("TINYTRANSFORMER_BACKEND")
        if env:
            _active.update(name=_valid(env, "TINYTRANSFORMER_BACKEND"), chosen=True)
        else:
            _active["name"] = "numba" if importlib.util.find_spec("numba") else "numpy"
    return _active["name"]


@contextlib.contextmanager
def use_backend(name: str):
    """Run the kernels inside the `with` block on backend `name`, then restore the previous one."""
    previous = (get_backend(), _active["chosen"])
    set_backend(name)
    try:
        yield
    finally:
        _active.update(name=previous[0], module=None, chosen=previous[1])


def _impl():
    """The active backend's module, imported on first use."""
    if _active["module"] is None:
        name = get_backend()
        try:
            _active["module"] = importlib.import_module(f".{_MODULES[name]}", __name__)
        except ImportError as err:  # a broken numba install: fall back unless asked for by name
            if _active["chosen"]:
                raise
            warnings.warn(f"kernels: numba failed to import ({err}); using numpy", stacklevel=3)
            _active.update(name="numpy", module=importlib.import_module(".reference", __name__))
    return _active["module"]


def softmax_forward(x, scale=1.0, mask=None):
    """y = softmax(scale * x) over the last axis, masked entries (False) 0; a fully masked row is
    all zeros, not NaN.  [N, C], mask [N, C] (may broadcast) -> [N, C]"""
    check("softmax_forward", "x[N,C]", x=x)
    check_mask("softmax_forward", mask, x.shape)
    return _impl().softmax_forward(x, float(scale), mask)


def softmax_backward(y, g, scale=1.0):
    """dx = scale * y * (g - sum(g * y, axis=-1)).  [N, C], [N, C] -> [N, C]"""
    check("softmax_backward", "y[N,C] g[N,C]", y=y, g=g)
    return _impl().softmax_backward(y, g, float(scale))


def log_softmax_forward(x):
    """y = x - logsumexp(x) over the last axis.  [N, C] -> [N, C]"""
    check("log_softmax_forward", "x[N,C]", x=x)
    return _impl().log_softmax_forward(x)


def log_softmax_backward(y, g):
    """dx = g - exp(y) * sum(g, axis=-1).  [N, C], [N, C] -> [N, C]"""
    check("log_softmax_backward", "y[N,C] g[N,C]", y=y, g=g)
    return _impl().log_softmax_backward(y, g)


def layer_norm_forward(x, w, b, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * w + b per row.

    [N, C], [C], [C] -> y [N, C], mean [N], rstd [N]"""
    check("layer_norm_forward", "x[N,C] w[C] b[C]", x=x, w=w, b=b)
    return _impl().layer_norm_forward(x, w, b, float(eps))


def layer_norm_backward(g, x, w, mean, rstd):
    """dx = rstd (g w - mean(g w) - x_hat mean(g w x_hat)), dw = sum g x_hat, db = sum g.

    [N, C], [N, C], [C], [N], [N] -> dx [N, C], dw [C], db [C]"""
    spec = "g[N,C] x[N,C] w[C] mean[N] rstd[N]"
    check("layer_norm_backward", spec, g=g, x=x, w=w, mean=mean, rstd=rstd)
    return _impl().layer_norm_backward(g, x, w, mean, rstd)


def cross_entropy_forward(logits, target, ignore_index=-100, label_smoothing=0.0):
    """loss_n = (1 - eps)(lse_n - x[n, t_n]) + eps (lse_n - mean_v x[n, v]), 0 where t_n is
    ignore_index; lse_n = logsumexp(x[n]).  [N, V], [N] int -> loss_rows [N], lse [N]"""
    target = check_targets("cross_entropy_forward", logits, target, ignore_index, label_smoothing)
    return _impl().cross_entropy_forward(logits, target, int(ignore_index), float(label_smoothing))


def cross_entropy_backward(logits, lse, target, g_rows, ignore_index=-100, label_smoothing=0.0):
    """dlogits = g_n (softmax(x_n) - (1 - eps) onehot(t_n) - eps / V), 0 where t_n is ignored.

    [N, V], [N], [N] int, [N] -> [N, V]"""
    op = "cross_entropy_backward"
    check(op, "logits[N,V] lse[N] g_rows[N]", logits=logits, lse=lse, g_rows=g_rows)
    target = check_targets(op, logits, target, ignore_index, label_smoothing)
    args = (int(ignore_index), float(label_smoothing))
    return _impl().cross_entropy_backward(logits, lse, target, g_rows, *args)


def attention_forward(q, k, v, mask=None, scale=1.0, drop=None):
    """Attention(Q, K, V) = softmax(scale Q K^T, masked) V; `drop` (0 or 1/(1-p)) multiplies P.

    [B, H, T_q, D], [B, H, T_k, D], [B, H, T_k, D_v], mask [B, H, T_q, T_k] (may broadcast),
    drop [B, H, T_q, T_k] -> out [B, H, T_q, D_v], p [B, H, T_q, T_k] (before dropout; a fully
    masked row is 0)"""
    check("attention_forward", "q[B,H,T_q,D] k[B,H,T_k,D] v[B,H,T_k,D_v]", q=q, k=k, v=v)
    shape = q.shape[:3] + k.shape[2:3]
    check_mask("attention_forward", mask, shape)
    if drop is not None:
        check("attention_forward", "q[B,H,T_q,D] drop[B,H,T_q,T_k]", q=q, drop=drop)
    return _impl().attention_forward(q, k, v, mask, float(scale), drop)


def attention_backward(g, q, k, v, p, scale=1.0, drop=None):
    """dq, dk, dv of attention_forward, given its p.  g [B, H, T_q, D_v] -> q's, k's, v's shapes"""
    spec = "g[B,H,T_q,D_v] q[B,H,T_q,D] k[B,H,T_k,D] v[B,H,T_k,D_v] p[B,H,T_q,T_k]"
    check("attention_backward", spec, g=g, q=q, k=k, v=v, p=p)
    if drop is not None:
        check("attention_backward", "p[B,H,T_q,T_k] drop[B,H,T_q,T_k]", p=p, drop=drop)
    return _impl().attention_backward(g, q, k, v, p, float(scale), drop)


def _tiled():
    """The active backend's tiled-attention module (reference_tiled.py or fast_tiled.py)."""
    name = "fast_tiled" if _impl().__name__.endswith(".fast") else "reference_tiled"
    return importlib.import_module(f".{name}", __name__)


def _check_tiled(op, q, k, v, mask, drop, blocks, **more):
    """Shapes and dtypes of q, k, v (and g, out, lse), the mask, dropout's (key, p), the blocks."""
    spec = "q[B,H,T_q,D] k[B,H,T_k,D] v[B,H,T_k,D_v]" + "".join(
        {"g": " g[B,H,T_q,D_v]", "out": " out[B,H,T_q,D_v]", "lse": " lse[B,H,T_q]"}[n]
        for n in more)
    check(op, spec, q=q, k=k, v=v, **more)
    check_mask(op, mask, q.shape[:3] + k.shape[2:3])
    if drop is not None and not (len(drop) == 2 and 0 <= drop[1] <= 1):
        raise ValueError(f"{op}: drop must be (key, p) with p in [0, 1], got {drop!r}")
    if not all(isinstance(n, int) and n > 0 for n in blocks):
        raise ValueError(f"{op}: block sizes must be positive integers, got {blocks}")


def attention_tiled_forward(q, k, v, mask=None, scale=1.0, drop=None,
                            block_q=BLOCK_Q, block_k=BLOCK_K):
    """Attention(Q, K, V) = softmax(scale Q K^T, masked) V by tiles of block_q queries x block_k
    keys, with an online softmax (reference_tiled.py): no [T_q, T_k] array is stored.

    [B, H, T_q, D], [B, H, T_k, D], [B, H, T_k, D_v], mask [B, H, T_q, T_k] (may broadcast),
    drop (key, p): dropout_mask's entries for that key (`dropout_key`) -> out [B, H, T_q, D_v],
    lse [B, H, T_q] (the log-sum-exp of each row's scores, +inf where a row allows nothing)"""
    _check_tiled("attention_tiled_forward", q, k, v, mask, drop, (block_q, block_k))
    with blas.one_thread():  # hundreds of small products (blas.py: measured)
        return _tiled().attention_tiled_forward(q, k, v, mask, float(scale), drop, block_q,
                                                block_k)


def attention_tiled_backward(g, q, k, v, out, lse, mask=None, scale=1.0, drop=None,
                             block_q=BLOCK_Q, block_k=BLOCK_K):
    """dq, dk, dv of attention_tiled_forward, from its out and lse (the weights are recomputed
    tile by tile).  g [B, H, T_q, D_v] -> q's, k's, v's shapes"""
    # drop's p was checked by the forward, once a step; it indexes nothing (blocks do: checked)
    _check_tiled("attention_tiled_backward", q, k, v, mask, None, (block_q, block_k),
                 g=g, out=out, lse=lse)
    with blas.one_thread():
        return _tiled().attention_tiled_backward(g, q, k, v, out, lse, mask, float(scale), drop,
                                                 block_q, block_k)


def matmul_blocked(a, b):
    """out = a @ b in blocks of 2 x 4 outputs (reference.py, fast_matmul.py): an alternative to
    BLAS that no layer calls.  [..., M, K], [..., K, N] (the same leading axes) -> [..., M, N]"""
    check("matmul_blocked", "a[...,M,K] b[...,K,N]", a=a, b=b)
    if a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"matmul_blocked: a {a.shape} and b {b.shape} must have the same "
                         "leading (batch) axes")
    return _impl().matmul_blocked(a, b)


def dropout_mask(shape, p: float, rng: np.random.Generator, dtype=np.float32):
    """mask = (u >= p) / (1 - p), u uniform, drawn from `rng` (seeded, resumable): 0 or 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout_mask: p = {p} is not in [0, 1]")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"dropout_mask: dtype {np.dtype(dtype)} is not float32 or float64")
    return _impl().dropout_mask(tuple(shape), float(p), rng, dtype)


def dropout_key(rng: np.random.Generator) -> int:
    """The key of one dropout mask: one raw 64-bit draw of `rng` (what dropout_mask draws first),
    for a kernel that regenerates the mask's entries itself (attention_tiled_*)."""
    return _impl().dropout_key(rng)


def dropout(x, p: float, rng: np.random.Generator):
    """y = x * mask, mask = dropout_mask(x.shape, p, rng, x.dtype): drawn and applied in one go.

    [...] -> y [...], mask [...] (kept for the backward pass: dx = g * mask)"""
    check("dropout", "x[...]", x=x)
    # p's meaning (0 <= p < 1 for a layer) is checked once, by functional.dropout: p indexes
    # nothing, so a direct call with another p gets a wrong mask but touches no memory it should not
    return _impl().dropout(x, float(p), rng)


def gelu(x):
    """y = x Phi(x), Phi the standard normal CDF.  [...] -> [...]"""
    if not alike(x):
        check_alike("gelu", x=x)
    return _impl().gelu(x)


def gelu_backward(g, x):
    """dx = g (Phi(x) + x phi(x)), phi the standard normal density.  g [...], x [...] -> [...]"""
    if not alike(g, x):
        check_alike("gelu_backward", g=g, x=x)
    return _impl().gelu_backward(g, x)


def relu(x):
    """y = max(x, 0).  [...] -> [...]"""
    if not alike(x):
        check_alike("relu", x=x)
    return _impl().relu(x)


def relu_backward(g, y):
    """dx = g where y = relu(x) > 0, else 0.  g [...], y [...] -> [...]"""
    if not alike(g, y):
        check_alike("relu_backward", g=g, y=y)
    return _impl().relu_backward(g, y)


def embedding_backward(ids, g, num_embeddings: int):
    """dW[v] = sum of g[n] over the rows n with ids[n] = v.  ids [N] int (or CheckedIds), g [N, C]
    -> [V, C]"""
    ids_array = ids.ids if isinstance(ids, CheckedIds) else ids
    check("embedding_backward", "ids[N] g[N,C]", ids=ids_array, g=g)
    ids = checked_ids("embedding_backward", ids, num_embeddings)  # ids index dW's rows
    return _impl().embedding_backward(ids, g, int(num_embeddings))


def adam_update(p, g, m, v, lr: float, beta1: float, beta2: float, eps: float, step: int):
    """One Adam step, in place on p, m, v (formula in reference.adam_update); step t >= 1."""
    check("adam_update", "p[...] g[...] m[...] v[...]", p=p, g=g, m=m, v=v)
    for name, a in (("p", p), ("m", m), ("v", v)):
        if a.shape != p.shape or not (a.flags.c_contiguous and a.flags.writeable):
            raise ValueError(f"adam_update: {name} must be a writeable C-contiguous array of "
                             f"p's shape {p.shape} (it is updated in place), got {a.shape}")
    if g.shape != p.shape:
        raise ValueError(f"adam_update: g has shape {g.shape}, p has {p.shape}")
    if step < 1:
        raise ValueError(f"adam_update: step counts from 1, got {step}")
    _impl().adam_update(p, g, m, v, float(lr), float(beta1), float(beta2), float(eps), int(step))
