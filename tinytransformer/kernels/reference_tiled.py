"""Tiled attention with an online softmax (FlashAttention's algorithm), the NumPy reference twin.

Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V   (§4.1), computed one tile of queries x keys at
a time, so that no [T_q, T_k] array is ever stored: the forward keeps, per query, a running max m
and sum l of the exponentials, and the backward recomputes each tile's weights from Q, K and the
saved log-sum-exp. Memory for backward is O(B H T D) instead of O(B H T_q T_k).

Online softmax, over the key tiles j = 1, 2, ... of one query row (s_j the tile's scaled scores):

    m_j = max(m_{j-1}, max s_j)
    l_j = exp(m_{j-1} - m_j) l_{j-1} + sum exp(s_j - m_j)
    a_j = exp(m_{j-1} - m_j) a_{j-1} + (exp(s_j - m_j) * drop_j) V_j
    out = a_J / l_J,   lse = m_J + log l_J

Backward, per tile, with Δ = rowsum(G * out) (= rowsum(dP' * P), dP' = (G V^T) * drop):

    P = exp(s - lse),  dV += (P * drop)^T G,  dS = scale P (dP' - Δ),  dQ += dS K,  dK += dS^T Q

Dropout: the mask entry of score (b, h, i, j) is the one `dropout_mask` draws for the full
[B, H, T_q, T_k] array with the same key (entry e = ((b H + h) T_q + i) T_k + j of `uniform16`),
regenerated in each tile by hashing e, so the tiled result equals the fused kernel's.
A mask is boolean, True = may attend, broadcasting to [B, H, T_q, T_k]; a tile in which it allows
nothing is skipped (causal attention skips the tiles above the diagonal).
"""

from __future__ import annotations

import numpy as np

from .reference import uniform16_at

# Tile sizes [block_q, block_k]: at T = 4096, forward + backward on one core (B = 1, H = 4, D = 32,
# float32), 256 x 512 took 0.91 of 256 x 1024's time (a 512 KiB tile of scores stays in L2);
# 128 x 512 was 1-4 % faster at T = 4096-8192 but 12 % slower at 2048 (twice as many tiles).
BLOCK_Q, BLOCK_K = 256, 512


def tiles(n: int, size: int):
    """(start, stop) of consecutive blocks of `size` covering range(n)."""
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def blocks(x: np.ndarray, size: int) -> list[np.ndarray]:
    """x [B, H, T, D] cut along T into contiguous blocks [B, H, size, D] (the last one shorter).

    Copies: NumPy's batched matmul calls BLAS only on operands laid out contiguously, and a slice
    x[:, :, lo:hi] is not (on a strided slice it is a hundred times slower)."""
    return [np.ascontiguousarray(x[:, :, lo:hi]) for lo, hi in tiles(x.shape[2], size)]


def mask_tile(mask, i0, i1, j0, j1):
    """The mask's [.., i0:i1, j0:j1] (None when there is no mask); broadcast axes stay 1."""
    if mask is None:
        return None
    rows = slice(None) if mask.shape[2] == 1 else slice(i0, i1)
    return mask[:, :, rows, j0:j1]


def drop_tile(shape, drop, i0, i1, j0, j1, dtype):
    """The dropout mask's tile [B, H, i1-i0, j1-j0]: 0 or 1/(1-p), as dropout_mask(shape) has it.

    drop = (key, p) or None (-> None)."""
    if drop is None:
        return None
    key, p = drop
    B, H, T_q, T_k = shape
    b, h, i, j = np.ix_(*(np.arange(n, dtype=np.uint64) for n in (B, H)),
                        np.arange(i0, i1, dtype=np.uint64), np.arange(j0, j1, dtype=np.uint64))
    e = ((b * np.uint64(H) + h) * np.uint64(T_q) + i) * np.uint64(T_k) + j  # flat index
    keep = uniform16_at(e, key) >= round(p * 65536)
    return keep * np.dtype(dtype).type(0 if p >= 1 else 1 / (1 - p))


def attention_tiled_forward(q, k, v, mask=None, scale=1.0, drop=None,
                            block_q=BLOCK_Q, block_k=BLOCK_K):
    """out = softmax(scale Q K^T, masked) (dropped) V, tile by tile; lse = log sum_j exp(s_ij).

    [B, H, T_q, D], [B, H, T_k, D], [B, H, T_k, D_v], mask [B|1, H|1, T_q|1, T_k] or None,
    drop (key, p) or None -> out [B, H, T_q, D_v], lse [B, H, T_q] (+inf where a query may
    attend to nothing: then P = exp(s - lse) = 0 and out = 0, as in the fused kernel)
    """
    B, H, T_q, _ = q.shape
    T_k = k.shape[2]
    out = np.zeros(q.shape[:3] + v.shape[3:], q.dtype)
    lse = np.full((B, H, T_q), np.inf, q.dtype)
    k_blocks, v_blocks = blocks(k, block_k), blocks(v, block_k)
    for (i0, i1), qi in zip(tiles(T_q, block_q), blocks(q, block_q)):
        m = np.full((B, H, i1 - i0), -np.inf, q.dtype)  # running max of the scores
        l = np.zeros((B, H, i1 - i0), q.dtype)  # running sum of exp(s - m)  # noqa: E741
        acc = out[:, :, i0:i1]  # running (exp(s - m) * drop) V
        for (j0, j1), kj, vj in zip(tiles(T_k, block_k), k_blocks, v_blocks):
            allowed = mask_tile(mask, i0, i1, j0, j1)
            if allowed is not None and not allowed.any():
                continue
            s = scale * (qi @ kj.swapaxes(-1, -2))  # [B, H, bq, bk]
            if allowed is not None:
                s = np.where(allowed, s, -np.inf)
            m_new = np.maximum(m, s.max(axis=-1))
            shift = np.where(m_new == -np.inf, 0, m_new)  # a row with nothing allowed yet: 0
            e = np.exp(s - shift[..., None])
            alpha = np.exp(m - shift)  # rescales what was summed under the old max
            l[...] = alpha * l + e.sum(axis=-1)
            d = drop_tile(q.shape[:3] + (T_k,), drop, i0, i1, j0, j1, q.dtype)
            acc[...] = alpha[..., None] * acc + (e if d is None else e * d) @ vj
            m = m_new
        seen = l > 0
        acc /= np.where(seen, l, 1)[..., None]
        lse[:, :, i0:i1] = np.where(seen, m + np.log(np.where(seen, l, 1)), np.inf)
    return out, lse


def attention_tiled_backward(g, q, k, v, out, lse, mask=None, scale=1.0, drop=None,
                             block_q=BLOCK_Q, block_k=BLOCK_K):
    """dq, dk, dv of attention_tiled_forward, recomputing each tile's P from q, k and lse.

    g [B, H, T_q, D_v], out and lse from the forward -> dq [B, H, T_q, D], dk, dv [B, H, T_k, .]
    """
    T_q, T_k = q.shape[2], k.shape[2]
    delta = (g * out).sum(axis=-1)  # Δ_i = rowsum(G * out) [B, H, T_q]
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    q_blocks, g_blocks = blocks(q, block_q), blocks(g, block_q)
    for (j0, j1), kj, vj in zip(tiles(T_k, block_k), blocks(k, block_k), blocks(v, block_k)):
        for (i0, i1), qi, gi in zip(tiles(T_q, block_q), q_blocks, g_blocks):
            allowed = mask_tile(mask, i0, i1, j0, j1)
            if allowed is not None and not allowed.any():
                continue
            s = scale * (qi @ kj.swapaxes(-1, -2))  # [B, H, bq, bk]
            p = np.exp(s - lse[:, :, i0:i1, None])  # the forward's weights, recomputed
            if allowed is not None:
                p = np.where(allowed, p, 0)
            d = drop_tile(q.shape[:3] + (T_k,), drop, i0, i1, j0, j1, q.dtype)
            dp = gi @ vj.swapaxes(-1, -2)  # [B, H, bq, bk]
            if d is not None:
                dp *= d
            ds = scale * p * (dp - delta[:, :, i0:i1, None])
            dv[:, :, j0:j1] += (p if d is None else p * d).swapaxes(-1, -2) @ gi
            dq[:, :, i0:i1] += ds @ kj
            dk[:, :, j0:j1] += ds.swapaxes(-1, -2) @ qi
    return dq, dk, dv
