"""Tiled attention on the Numba backend: reference_tiled.py's loops, with BLAS for each tile's
products (batched over B and H) and the compiled kernels of fast_kernels.py for what lies between
them (`_tiled_forward_tile`, `_tiled_backward_tile`: the online-softmax step, the recomputed
weights, masks and dropout). Same arguments and results as reference_tiled.py; its docstring has
the formulas. Each tile's arrays are [B, H, bq, bk]: a few MiB, whatever T is.
"""

from __future__ import annotations

import numpy as np

from . import fast_kernels as _k
from .fast import _c, _reduced, _run
from .reference_tiled import BLOCK_K, BLOCK_Q, blocks, tiles


def _drop_args(drop, shape, dtype):
    """drop (key, p) or None -> the kernels' (key, threshold, keep, H, T_q, T_k), has_drop."""
    B, H, T_q, T_k = shape
    if drop is None:
        return (np.uint64(0), np.uint64(0), dtype.type(0), H, T_q, T_k), False
    key, p = drop
    keep = dtype.type(0 if p >= 1 else 1 / (1 - p))
    return (np.uint64(key), np.uint64(round(p * 65536)), keep, H, T_q, T_k), True


def _skip(mask_r, has_mask, i0, i1, j0, j1) -> bool:
    """True when the mask allows nothing in the tile (causal attention: above the diagonal)."""
    if not has_mask:
        return False
    rows = slice(None) if mask_r.shape[2] == 1 else slice(i0, i1)
    return not mask_r[:, :, rows, j0:j1].any()


def attention_tiled_forward(q, k, v, mask=None, scale=1.0, drop=None,
                            block_q=BLOCK_Q, block_k=BLOCK_K):
    q, k, v = _c(q), _c(k), _c(v)
    B, H, T_q, _ = q.shape
    T_k, dt = k.shape[2], q.dtype
    shape = (B, H, T_q, T_k)
    mask_r, has_mask = _reduced(mask, shape, bool), mask is not None
    drop_args, has_drop = _drop_args(drop, shape, dt)
    out = np.empty(q.shape[:3] + v.shape[3:], dt)
    lse = np.empty((B, H, T_q), dt)
    k_blocks, v_blocks = blocks(k, block_k), blocks(v, block_k)
    for (i0, i1), qi in zip(tiles(T_q, block_q), blocks(q, block_q)):
        m = np.full((B, H, i1 - i0), -np.inf, dt)
        l = np.zeros((B, H, i1 - i0), dt)  # noqa: E741
        acc = np.zeros((B, H, i1 - i0, v.shape[3]), dt)
        for (j0, j1), kj, vj in zip(tiles(T_k, block_k), k_blocks, v_blocks):
            if _skip(mask_r, has_mask, i0, i1, j0, j1):
                continue
            s = np.matmul(qi, kj.swapaxes(-1, -2))  # [B, H, bq, bk] scores, by BLAS
            _run(_k._tiled_forward_tile, s, mask_r, has_mask, i0, j0, dt.type(scale),
                 drop_args, has_drop, m, l, acc)
            acc += np.matmul(s, vj)  # (exp(s - m) * drop) V_j
        seen = l > 0
        out[:, :, i0:i1] = acc / np.where(seen, l, 1)[..., None]
        lse[:, :, i0:i1] = np.where(seen, m + np.log(np.where(seen, l, 1)), np.inf)
    return out, lse


def attention_tiled_backward(g, q, k, v, out, lse, mask=None, scale=1.0, drop=None,
                             block_q=BLOCK_Q, block_k=BLOCK_K):
    g, q, k, v, lse = _c(g), _c(q), _c(k), _c(v), _c(lse)
    B, H, T_q, _ = q.shape
    T_k, dt = k.shape[2], q.dtype
    shape = (B, H, T_q, T_k)
    mask_r, has_mask = _reduced(mask, shape, bool), mask is not None
    drop_args, has_drop = _drop_args(drop, shape, dt)
    delta = _c(np.einsum("bhid,bhid->bhi", g, out))  # Δ = rowsum(G * out)
    dq, dk, dv = np.zeros_like(q), np.empty_like(k), np.empty_like(v)
    q_blocks, g_blocks = blocks(q, block_q), blocks(g, block_q)
    for (j0, j1), kj, vj in zip(tiles(T_k, block_k), blocks(k, block_k), blocks(v, block_k)):
        dk_j, dv_j = np.zeros_like(kj), np.zeros_like(vj)
        for (i0, i1), qi, gi in zip(tiles(T_q, block_q), q_blocks, g_blocks):
            if _skip(mask_r, has_mask, i0, i1, j0, j1):
                continue
            s = np.matmul(qi, kj.swapaxes(-1, -2))  # [B, H, bq, bk]: P after the kernel
            dp = np.matmul(gi, vj.swapaxes(-1, -2))  # dP = G V^T: dS after the kernel
            pd = np.empty_like(s) if has_drop else s
            _run(_k._tiled_backward_tile, s, dp, mask_r, has_mask, i0, j0, dt.type(scale), lse,
                 delta, drop_args, has_drop, pd)
            dv_j += np.matmul(pd.swapaxes(-1, -2), gi)  # dV_j += (P * drop)^T G_i
            dk_j += np.matmul(dp.swapaxes(-1, -2), qi)  # dK_j += dS^T Q_i
            dq[:, :, i0:i1] += np.matmul(dp, kj)  # dQ_i += dS K_j
        dk[:, :, j0:j1], dv[:, :, j0:j1] = dk_j, dv_j
    return dq, dk, dv
