"""Numba kernels for quantised weights: multiply by the 4-bit (Q4_1) and 8-bit (Q8_0) blocks
directly, and de-quantise them fast. Formulas and layouts: quant_reference.py (the twins).

    y[n, r] = sum_b ( d[r, b] sum_j q[r, b, j] x[n, b, j]  +  m[r, b] sum_j x[n, b, j] )

so a block costs one multiply by its scale, and the offset m needs only the block sums of x,
computed once for all rows. Measured choices (2-core Zen 3, [1536, 576], one thread):
- The nibbles are split in floats, hi = floor(f / 16), lo = f - 16 hi with f = float(byte):
  Numba types `byte & 15` as a 64-bit integer, and AVX2 has no vector int64 -> float, so the
  integer split ran 1.2-1.7x slower.
- The sums run in a [32] accumulator per row, scaled per block, reduced once per row: a
  per-block scalar sum made LLVM vectorise the loop over blocks instead (gathers), 3-4x slower.
- Two rows of W at a time: each load of x serves both, and the two rows' conversions
  interleave: 1.3-1.4x faster than one row at a time.
- Serial. `parallel=True` (prange over the rows) was 1.7x slower to 40x slower on the shared
  2-core machine, never faster: a token makes 211 products, each a parallel region that waits
  for its slowest thread, and a thread that loses its core to another process waits a
  scheduler tick (milliseconds) for every region. One thread is 2x slower than the ideal of two,
  never 40x.
"""

from __future__ import annotations

import numpy as np

from .fast import _run as run
from .fast_kernels import _jit

_SIXTEENTH, _SIXTEEN = np.float32(1 / 16), np.float32(16)


@_jit()
def _q4_1_matmul(x, xs, d, m, qs, out):
    """out = x W^T, W in Q4_1 blocks, two rows of W at a time.  x [N, NB, 32], xs [N, NB] =
    block sums of x, d, m [R, NB], qs [R, NB, 16] uint8 -> out [N, R]"""
    N, NB = xs.shape
    R = d.shape[0]
    acc0, acc1 = np.zeros(32, out.dtype), np.zeros(32, out.dtype)  # lanes: lo 0..15, hi 16..31
    for n in range(N):
        xn, xsn = x[n], xs[n]
        for r in range(0, R, 2):
            s = min(r + 1, R - 1)  # an odd last row is computed twice
            acc0[:] = 0
            acc1[:] = 0
            q0, q1, d0, d1, m0, m1 = qs[r], qs[s], d[r], d[s], m[r], m[s]
            off0, off1 = out.dtype.type(0), out.dtype.type(0)
            for b in range(NB):
                scale0, scale1, xb, qb0, qb1 = d0[b], d1[b], xn[b], q0[b], q1[b]
                for j in range(16):
                    f0, f1 = np.float32(qb0[j]), np.float32(qb1[j])
                    hi0, hi1 = np.floor(f0 * _SIXTEENTH), np.floor(f1 * _SIXTEENTH)
                    x_lo, x_hi = xb[j], xb[16 + j]
                    acc0[j] += scale0 * (f0 - _SIXTEEN * hi0) * x_lo
                    acc0[16 + j] += scale0 * hi0 * x_hi
                    acc1[j] += scale1 * (f1 - _SIXTEEN * hi1) * x_lo
                    acc1[16 + j] += scale1 * hi1 * x_hi
                off0 += m0[b] * xsn[b]
                off1 += m1[b] * xsn[b]
            out[n, r] = acc0.sum() + off0
            out[n, s] = acc1.sum() + off1


@_jit()
def _q8_0_matmul(x, d, qs, out):
    """out = x W^T, W in Q8_0 blocks, two rows of W at a time.  x [N, NB, 32], d [R, NB],
    qs [R, NB, 32] int8 -> out [N, R]"""
    N, NB = x.shape[0], x.shape[1]
    R = d.shape[0]
    acc0, acc1 = np.zeros(32, out.dtype), np.zeros(32, out.dtype)
    for n in range(N):
        xn = x[n]
        for r in range(0, R, 2):
            s = min(r + 1, R - 1)  # an odd last row is computed twice
            acc0[:] = 0
            acc1[:] = 0
            q0, q1, d0, d1 = qs[r], qs[s], d[r], d[s]
            for b in range(NB):
                scale0, scale1, xb, qb0, qb1 = d0[b], d1[b], xn[b], q0[b], q1[b]
                for j in range(32):
                    acc0[j] += scale0 * np.float32(qb0[j]) * xb[j]
                    acc1[j] += scale1 * np.float32(qb1[j]) * xb[j]
            out[n, r] = acc0.sum()
            out[n, s] = acc1.sum()


@_jit()
def _dequantize_q4_1(d, m, qs, out):
    """out = d q + m.  d, m [R, NB], qs [R, NB, 16] uint8 -> out [R, NB, 32]"""
    for r in range(d.shape[0]):
        q, dr, mr, o = qs[r], d[r], m[r], out[r]
        for b in range(d.shape[1]):
            scale, offset, qb, ob = dr[b], mr[b], q[b], o[b]
            for j in range(16):
                f = np.float32(qb[j])
                hi = np.floor(f * _SIXTEENTH)
                ob[j] = scale * (f - _SIXTEEN * hi) + offset
                ob[16 + j] = scale * hi + offset


@_jit()
def _dequantize_q8_0(d, qs, out):
    """out = d q.  d [R, NB], qs [R, NB, 32] int8 -> out [R, NB, 32]"""
    for r in range(d.shape[0]):
        q, dr, o = qs[r], d[r], out[r]
        for b in range(d.shape[1]):
            scale, qb, ob = dr[b], q[b], o[b]
            for j in range(32):
                ob[j] = scale * np.float32(qb[j])


# -- the twins of quant_reference.py: same arguments, same results ----------------------------

def q4_1_matmul(x, d, m, qs) -> np.ndarray:
    """y = x W^T, W in Q4_1 blocks.  x [N, K] float32, d, m [R, NB], qs [R, NB, 16] -> [N, R]"""
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], -1, 32)  # [N, NB, 32]
    out = np.empty((x.shape[0], d.shape[0]), x.dtype)
    run(_q4_1_matmul, x3, x3.sum(-1), d, m, qs, out)
    return out


def q8_0_matmul(x, d, qs) -> np.ndarray:
    """y = x W^T, W in Q8_0 blocks.  x [N, K] float32, d [R, NB], qs [R, NB, 32] -> [N, R]"""
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], -1, 32)  # [N, NB, 32]
    out = np.empty((x.shape[0], d.shape[0]), x.dtype)
    run(_q8_0_matmul, x3, d, qs, out)
    return out


def dequantize_q4_1(d, m, qs, dtype=np.float32) -> np.ndarray:
    """W = d q + m.  d, m [R, NB], qs [R, NB, 16] uint8 -> W [R, NB * 32] float32"""
    out = np.empty((*d.shape, 32), np.float32)
    run(_dequantize_q4_1, d, m, qs, out)
    return out.reshape(d.shape[0], -1).astype(dtype, copy=False)


def dequantize_q8_0(d, qs, dtype=np.float32) -> np.ndarray:
    """W = d q.  d [R, NB], qs [R, NB, 32] int8 -> W [R, NB * 32] float32"""
    out = np.empty((*d.shape, 32), np.float32)
    run(_dequantize_q8_0, d, qs, out)
    return out.reshape(d.shape[0], -1).astype(dtype, copy=False)
