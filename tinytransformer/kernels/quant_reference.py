"""Quantised weights, the NumPy way: de-quantise the whole matrix, then one BLAS product.

The reference twin of quant_fast.py (same arguments, same results to float32 rounding). The
formulas, one block of 32 weights w[0..31] of row r (GGUF's layouts, pretrained/gguf.py):

    Q4_1:  w[j] = d q[j] + m,   q[j] in 0..15 (two per byte: low nibble j, high nibble j + 16)
    Q8_0:  w[j] = d q[j],       q[j] in -128..127

d, m [R, NB] float32 (GGUF stores them as float16; float32 holds them exactly), qs [R, NB, 16]
uint8 (Q4_1) or [R, NB, 32] int8 (Q8_0), NB = K / 32 blocks per row.
"""

from __future__ import annotations

import numpy as np


def dequantize_q4_1(d, m, qs, dtype=np.float32) -> np.ndarray:
    """W = d q + m.  d, m [R, NB], qs [R, NB, 16] uint8 -> W [R, NB * 32]"""
    q = np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=-1)  # [R, NB, 32]
    w = d.astype(dtype)[..., None] * q.astype(dtype) + m.astype(dtype)[..., None]
    return w.reshape(d.shape[0], -1)


def dequantize_q8_0(d, qs, dtype=np.float32) -> np.ndarray:
    """W = d q.  d [R, NB], qs [R, NB, 32] int8 -> W [R, NB * 32]"""
    w = d.astype(dtype)[..., None] * qs.astype(dtype)
    return w.reshape(d.shape[0], -1)


def q4_1_matmul(x, d, m, qs) -> np.ndarray:
    """y = x W^T, W de-quantised first.  x [N, K], Q4_1 blocks of W [R, K] -> y [N, R]"""
    return x @ dequantize_q4_1(d, m, qs, x.dtype).T


def q8_0_matmul(x, d, qs) -> np.ndarray:
    """y = x W^T, W de-quantised first.  x [N, K], Q8_0 blocks of W [R, K] -> y [N, R]"""
    return x @ dequantize_q8_0(d, qs, x.dtype).T


def quantize_q4_1(w: np.ndarray):
    """The blocks of W, as llama.cpp quantises: per block of 32, m = min w, d = (max w - m) / 15,
    q = round((w - m) / d) in 0..15; d and m stored as float16.
    W [R, K] -> d, m [R, NB] float32, qs [R, NB, 16] uint8 (q[j] low nibble, q[j + 16] high)"""
    x = np.asarray(w, np.float32).reshape(len(w), -1, 32)  # [R, NB, 32]
    lo, hi = x.min(-1, keepdims=True), x.max(-1, keepdims=True)
    d = (hi - lo) / np.float32(15)
    inv = np.divide(1, d, out=np.zeros_like(d), where=d != 0)
    q = np.trunc((x - lo) * inv + np.float32(0.5)).clip(0, 15).astype(np.uint8)
    qs = q[..., :16] | (q[..., 16:] << np.uint8(4))
    f16 = lambda a: a[..., 0].astype(np.float16).astype(np.float32)  # noqa: E731
    return f16(d), f16(lo), qs
