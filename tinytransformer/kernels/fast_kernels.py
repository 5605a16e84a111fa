"""Numba kernels: the formulas of reference.py as loops over contiguous arrays (`fast.py` prepares
the arrays). The kernels that share helpers (exp, softmax, the normal CDF) are in this one file,
because Numba's disk cache notices edits only to the file of the function it cached, not to the
helpers that function calls from other files; kernels that call none are in fast_pointwise.py.

Measured choices (on the 2-core machine; numbers in the kernels report):
- Serial. A `parallel=True` kernel is 2x faster alone, but in a training step it alternates with
  OpenBLAS matmuls and the two thread pools fight: 5-8 ms per kernel with Numba's default OpenMP
  layer, no gain left with OMP_WAIT_POLICY=passive. Serial kernels also compile in ~0.5 s.
- Loops run over row views (`x[n]`) from index 0: `for j in range(lo, hi): a[j]` does not
  vectorise (Numba must allow for negative indices) and runs 10x slower than a loop over a[lo:hi].
- fastmath: every flag but "nnan" and "ninf" (masked entries are -inf; NaN must propagate). A
  helper called from here is compiled with these flags, whatever its own decorator says.
- exp: no SVML, so `math.exp` in a loop is scalar and 5x slower than NumPy's; float32 uses
  `_exp_inplace`, a polynomial LLVM vectorises; float64 keeps libm's exp (tests, gradcheck).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .reference import GOLDEN, MIX1, MIX2, SHIFT1, SHIFT2, SHIFT3

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _jit():
    return njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)


_NINF, _ZERO, _HALF, _ONE = (np.float32(v) for v in (-np.inf, 0, 0.5, 1))  # f32 stays f32

# exp(x) = 2^k exp(r),  k = round(x / ln 2),  r = x - k ln 2 in [-ln2/2, ln2/2]   (Cephes expf)
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)  # ln 2 = HI + LO
_P0, _P1, _P2 = (np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3))
_P3, _P4, _P5 = (np.float32(c) for c in (4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_EXP_LO = np.float32(-86.9)  # exp(x < -86.9) < 2e-38 is returned as 0 (k stays >= -125)


@_jit()
def _exp_inplace(a):
    """a = exp(a) for a 1-D contiguous array of entries <= 0, -inf or NaN."""
    if a.itemsize == 8:  # float64: libm's exp, as exact as NumPy's
        for j in range(a.shape[0]):
            a[j] = math.exp(a[j])
        return
    bits = a.view(np.int32)  # the same memory, read as the floats' bit patterns
    for j in range(a.shape[0]):
        x = a[j]
        xc = _EXP_LO if x < _EXP_LO else x  # NaN stays NaN, and so does the result
        k = np.floor(xc * _LOG2E + _HALF)
        r = xc - k * _LN2_HI - k * _LN2_LO
        a[j] = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * r * r + r + _ONE
        k_int = np.int32(k if x == x else _ZERO)
        bits[j] = 0 if x < _EXP_LO else bits[j] + (k_int << 23)  # times 2^k: k joins the exponent


@_jit()
def _max(a):
    """max(a) of a 1-D contiguous array. A float max reduction only vectorises under fastmath
    "nnan" (NaN inputs would then give garbage, not NaN), so long float32 rows compare their
    bits as integers instead, flipped for negative floats so that the order is kept."""
    if a.itemsize == 8 or a.shape[0] < 64:
        m = _NINF
        for j in range(a.shape[0]):
            m = max(m, a[j])
        return m
    bits = a.view(np.int32)
    key = np.int32(-(2**31))
    for j in range(bits.shape[0]):
        key = max(key, bits[j] ^ ((bits[j] >> 31) & 0x7FFFFFFF))  # monotone in the float
    out = np.empty(1, np.int32)
    out[0] = key ^ ((key >> 31) & 0x7FFFFFFF)  # the flip is its own inverse
    return out.view(np.float32)[0]


@_jit()
def _softmax_inplace(z):
    """z[n] = softmax(z[n]) for each row of z [R, C]; a row of only -inf becomes 0, not NaN."""
    R, C = z.shape
    for n in range(R):
        row = z[n]
        m = _max(row)
        m = _ZERO if m == _NINF else m  # fully masked: exp(-inf - 0) = 0
        for j in range(C):
            row[j] -= m
    _exp_inplace(z.reshape(R * C))  # one long loop, even when rows are short
    for n in range(R):
        row = z[n]
        s = _ZERO
        for j in range(C):
            s += row[j]
        inv = _ONE / s if s != 0 else _ZERO  # NaN stays NaN
        for j in range(C):
            row[j] *= inv


@_jit()
def _softmax_forward(x, mask, has_mask, scale, y, rows):
    """y = softmax(scale * x), mask [N|1, C] (False -> 0), in blocks of rows.  [N, C] -> [N, C]"""
    N, C = x.shape
    for lo in range(0, N, rows):
        hi = min(lo + rows, N)
        for n in range(lo, hi):
            xn, yn, mn = x[n], y[n], mask[min(n, mask.shape[0] - 1)]
            if has_mask:
                for j in range(C):
                    yn[j] = scale * xn[j] if mn[j] else _NINF
            else:
                for j in range(C):
                    yn[j] = scale * xn[j]
        _softmax_inplace(y[lo:hi])  # a block: a long exp loop even when rows are short


@_jit()
def _softmax_backward(y, g, scale, dx):
    """dx = scale * y * (g - sum(g * y)).  [N, C], [N, C] -> [N, C]"""
    for n in range(y.shape[0]):
        yn, gn, dxn = y[n], g[n], dx[n]
        s = _ZERO
        for j in range(yn.shape[0]):
            s += gn[j] * yn[j]
        for j in range(yn.shape[0]):
            dxn[j] = scale * yn[j] * (gn[j] - s)


@_jit()
def _log_softmax_forward(x, y, rows):
    """y = (x - max) - log(sum(exp(x - max))), in blocks of rows.  [N, C] -> [N, C]"""
    N, C = x.shape
    e = np.empty(rows * C, x.dtype)
    for lo in range(0, N, rows):
        hi = min(lo + rows, N)
        for n in range(lo, hi):
            xn, yn, en = x[n], y[n], e[(n - lo) * C:(n - lo + 1) * C]
            m = _max(xn)
            for j in range(C):
                yn[j] = xn[j] - m
                en[j] = yn[j]
        _exp_inplace(e[: (hi - lo) * C])
        for n in range(lo, hi):
            yn, en = y[n], e[(n - lo) * C:(n - lo + 1) * C]
            s = _ZERO
            for j in range(C):
                s += en[j]
            log_s = math.log(s)
            for j in range(C):  # a separate pass over stored x - max: x - (max + log_s) would
                yn[j] -= log_s  # lose log_s next to max = 1e4 (fastmath may reassociate)


@_jit()
def _log_softmax_backward(y, g, dx, rows):
    """dx = g - exp(y) * sum(g), in blocks of rows.  [N, C], [N, C] -> [N, C]"""
    N, C = y.shape
    for lo in range(0, N, rows):
        hi = min(lo + rows, N)
        for n in range(lo, hi):
            yn, dxn = y[n], dx[n]
            for j in range(C):
                dxn[j] = yn[j]
        _exp_inplace(dx[lo:hi].reshape((hi - lo) * C))
        for n in range(lo, hi):
            gn, dxn = g[n], dx[n]
            s = _ZERO
            for j in range(C):
                s += gn[j]
            for j in range(C):
                dxn[j] = gn[j] - dxn[j] * s


# erf for float32: Eigen's rational approximation (also XLA's and TVM's), erf(v) = v A(v^2) / B(v^2)
# with v clamped to [-4, 4], where erf is +-1 in float32; |error| < 4e-7 (tests/test_kernels.py).
# It vectorises; libm's erff does not (0.13 against 8.4 ms on [1024, 512]).
_A = tuple(np.float32(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08,
                                   -2.10102402082508e-06, -5.69250639462346e-05,
                                   -7.34990630326855e-04, -2.95459980854025e-03,
                                   -1.60960333262415e-02))
_B = tuple(np.float32(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04,
                                   -1.68282697438203e-03, -7.37332916720468e-03,
                                   -1.42647390514189e-02))
_FOUR, _SQRT_HALF = np.float32(4), np.float32(math.sqrt(0.5))
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


@_jit()
def _normal_cdf32(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 for one float32 (NaN stays NaN)."""
    v = x * _SQRT_HALF
    v = _FOUR if v > _FOUR else (-_FOUR if v < -_FOUR else v)
    v2 = v * v
    a, b = _ZERO, _ZERO
    for c in _A:  # Horner: A(v2) = ((A0 v2 + A1) v2 + ...) v2 + A6
        a = a * v2 + c
    for c in _B:
        b = b * v2 + c
    return _HALF + _HALF * v * a / b


@_jit()
def _gelu(x, y):
    """y = x Phi(x).  1-D"""
    if x.itemsize == 8:  # float64: libm's erf, as exact as the reference's
        for j in range(x.shape[0]):
            y[j] = x[j] * (0.5 + 0.5 * math.erf(x[j] * math.sqrt(0.5)))
        return
    for j in range(x.shape[0]):
        y[j] = x[j] * _normal_cdf32(x[j])


@_jit()
def _gelu_backward(g, x, dx):
    """dx = g (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).  1-D"""
    if x.itemsize == 8:
        for j in range(x.shape[0]):
            xj = x[j]
            cdf = 0.5 + 0.5 * math.erf(xj * math.sqrt(0.5))
            dx[j] = g[j] * (cdf + xj * math.exp(-0.5 * xj * xj) * _INV_SQRT_2PI)
        return
    for j in range(x.shape[0]):
        dx[j] = -_HALF * x[j] * x[j]
    _exp_inplace(dx)  # dx = exp(-x^2 / 2) for now
    c = np.float32(_INV_SQRT_2PI)
    for j in range(x.shape[0]):
        dx[j] = g[j] * (_normal_cdf32(x[j]) + x[j] * dx[j] * c)


@_jit()
def _logsumexp_parts(x, m, log_s, mean):
    """Per row: m = max(x), log_s = log(sum(exp(x - m))) (logsumexp = m + log_s), mean(x).

    [N, V] -> [N], [N], [N]; the cross-entropy itself is a few NumPy lines on these rows
    (reference._smoothed_nll), where no fastmath can reorder its cancellations.
    """
    N, V = x.shape
    e = np.empty(V, x.dtype)
    for n in range(N):
        xn, mn = x[n], _max(x[n])
        sx = _ZERO
        for j in range(V):
            sx += xn[j]
            e[j] = xn[j] - mn
        _exp_inplace(e)
        se = _ZERO
        for j in range(V):
            se += e[j]
        m[n], log_s[n], mean[n] = mn, math.log(se), sx / V


@_jit()
def _cross_entropy_backward(x, lse, target, g, ignore, keep, eps_v, dx):
    """dx = g_n (softmax(x_n) - keep onehot(t_n) - eps_v); keep = 1 - eps, eps_v = eps / V.

    [N, V], [N], [N], [N] -> [N, V]; 0 where t_n is ignored
    """
    N, V = x.shape
    for n in range(N):
        xn, dxn = x[n], dx[n]
        t = target[n]
        lse_n = lse[n]
        gn = g[n] if t != ignore else _ZERO
        for j in range(V):
            dxn[j] = xn[j] - lse_n
        _exp_inplace(dxn)
        for j in range(V):
            dxn[j] = gn * (dxn[j] - eps_v)
        if t != ignore:
            dxn[t] -= keep * gn


# Attention: NumPy's batched matmul (OpenBLAS) computes Q K^T, P V and the backward products (it
# beats the compiled fast_matmul.py at these sizes: `tinytransformer bench kernels`); everything
# between those products is one pass per (b, h) head. Masks and dropout arrive as
# [B|1, H|1, T_q|1, T_k]: a length-1 axis broadcasts.


@_jit()
def _attention_probs(s, mask, drop, has_drop, scale, pd):
    """P = softmax(scale S, masked) in place of the scores S; PD = P * drop.  [B, H, T_q, T_k]"""
    B, H, T_q, T_k = s.shape
    for b in range(B):
        for h in range(H):
            m = mask[min(b, mask.shape[0] - 1), min(h, mask.shape[1] - 1)]
            d = drop[min(b, drop.shape[0] - 1), min(h, drop.shape[1] - 1)]
            sh, pdh = s[b, h], pd[b, h]
            for i in range(T_q):
                si, mi = sh[i], m[min(i, m.shape[0] - 1)]
                for j in range(T_k):
                    si[j] = scale * si[j] if mi[j] else _NINF
            _softmax_inplace(sh)
            if has_drop:
                for i in range(T_q):
                    si, pdi, di = sh[i], pdh[i], d[min(i, d.shape[0] - 1)]
                    for j in range(T_k):
                        pdi[j] = si[j] * di[j]


@_jit()
def _attention_grad(dp, p, drop, has_drop, scale, pd):
    """dS = scale P (dP' - rowsum(dP' P)), dP' = dP * drop, in place of dP = G V^T; PD = P * drop.

    [B, H, T_q, T_k] each
    """
    B, H, T_q, T_k = p.shape
    for b in range(B):
        for h in range(H):
            d = drop[min(b, drop.shape[0] - 1), min(h, drop.shape[1] - 1)]
            for i in range(T_q):
                dpi, pi, pdi, di = dp[b, h, i], p[b, h, i], pd[b, h, i], d[min(i, d.shape[0] - 1)]
                if has_drop:
                    for j in range(T_k):
                        dpi[j] *= di[j]
                        pdi[j] = pi[j] * di[j]
                s = _ZERO
                for j in range(T_k):
                    s += dpi[j] * pi[j]
                for j in range(T_k):
                    dpi[j] = scale * pi[j] * (dpi[j] - s)


# Dropout's mask: splitmix64 of a counter (reference.uniform16), here so that the tiled attention
# below regenerates the entries of its tiles with the same hash (see the docstring on the cache).
_U1, _LOW16 = np.uint64(1), np.uint64(0xFFFF)  # uint64 constants keep the hash in uint64


@_jit()
def _splitmix64(key, i):
    """z_i = splitmix64(key + (i + 1) GOLDEN), as in reference.uniform16.  uint64"""
    z = key + (i + _U1) * GOLDEN
    z = (z ^ (z >> SHIFT1)) * MIX1
    z = (z ^ (z >> SHIFT2)) * MIX2
    return z ^ (z >> SHIFT3)


@_jit()
def _dropout_mask(key, threshold, scale, mask):
    """mask[j] = scale if u_j >= threshold else 0, u_j = quarter j % 4 of z_{j // 4}.  1-D

    Four entries per hash; the loop over the last n % 4 entries hashes once for each."""
    zero = np.zeros(1, mask.dtype)[0]
    n = mask.shape[0]
    for i in range(n // 4):
        z = _splitmix64(key, np.uint64(i))
        for r in range(4):
            mask[4 * i + r] = scale if (z >> np.uint64(16 * r)) & _LOW16 >= threshold else zero
    for j in range(n - n % 4, n):
        z = _splitmix64(key, np.uint64(j // 4))
        mask[j] = scale if (z >> np.uint64(16 * (j % 4))) & _LOW16 >= threshold else zero


@_jit()
def _drop_row(row, e0, key, threshold, keep, out):
    """out[j] = row[j] * (keep if u_{e0 + j} >= threshold else 0): one row of a tile, dropped with
    the entries e0, e0 + 1, ... of dropout_mask's hash (one hash per 4 entries).  1-D"""
    zero = np.zeros(1, row.dtype)[0]
    z = _splitmix64(key, e0 >> np.uint64(2))
    for j in range(row.shape[0]):
        e = e0 + np.uint64(j)
        r = e & np.uint64(3)
        if r == np.uint64(0) and j > 0:
            z = _splitmix64(key, e >> np.uint64(2))
        out[j] = row[j] * (keep if (z >> (np.uint64(16) * r)) & _LOW16 >= threshold else zero)


# Tiled attention (reference_tiled.py has the formulas and the online-softmax recurrence): BLAS
# computes each tile's products (fast_tiled.py); these kernels do what lies between them, in place
# on the tile, one row at a time. Rows are (b, h, i) of a [B, H, bq, bk] tile; the mask is
# [B|1, H|1, T_q|1, T_k] and is read at the tile's offsets i0, j0.


@_jit()
def _scale_row(row, allowed, has_mask, scale, offset):
    """row = scale * row - offset where allowed (all of it without a mask), -inf elsewhere.  1-D"""
    if has_mask:
        for j in range(row.shape[0]):
            row[j] = scale * row[j] - offset if allowed[j] else _NINF
    else:
        for j in range(row.shape[0]):
            row[j] = scale * row[j] - offset


@_jit()
def _tiled_forward_tile(s, mask, has_mask, i0, j0, scale, drop, has_drop, m, l, acc):
    """S -> exp(scale S - m_new) * drop (masked: 0), in place; m, l [B, H, bq] updated and the
    accumulator acc [B, H, bq, D_v] rescaled by exp(m_old - m_new).  s [B, H, bq, bk]

    drop = (key, threshold, keep, H, T_q, T_k): entry (b, h, i, j) of the full mask is
    e = ((b H + h) T_q + i0 + i) T_k + j0 + j."""
    B, H, bq, bk = s.shape
    key, threshold, keep, H_all, T_q, T_k = drop
    for b in range(B):
        for h in range(H):
            mbh = mask[min(b, mask.shape[0] - 1), min(h, mask.shape[1] - 1)]
            for i in range(bq):
                row = s[b, h, i]
                _scale_row(row, mbh[min(i0 + i, mbh.shape[0] - 1)][j0:j0 + bk], has_mask, scale,
                           _ZERO)
                m_old = m[b, h, i]
                m_new = max(m_old, _max(row))
                shift = _ZERO if m_new == _NINF else m_new  # nothing allowed yet: exp(-inf) = 0
                for j in range(bk):
                    row[j] -= shift
                _exp_inplace(row)
                total = _ZERO
                for j in range(bk):
                    total += row[j]
                alpha = math.exp(m_old - shift)  # rescales what was summed under the old max
                m[b, h, i] = m_new
                l[b, h, i] = alpha * l[b, h, i] + total
                ai = acc[b, h, i]
                for d in range(ai.shape[0]):
                    ai[d] *= alpha
                if has_drop:
                    e0 = np.uint64(((b * H_all + h) * T_q + i0 + i) * T_k + j0)
                    _drop_row(row, e0, key, threshold, keep, row)


@_jit()
def _tiled_backward_tile(s, dp, mask, has_mask, i0, j0, scale, lse, delta, drop, has_drop, pd):
    """S -> P = exp(scale S - lse) (masked: 0), pd = P * drop, and dP -> dS = scale P (dP drop - Δ),
    all in place on the tile.  s, dp, pd [B, H, bq, bk]; lse, delta [B, H, T_q] (full)"""
    B, H, bq, bk = s.shape
    key, threshold, keep, H_all, T_q, T_k = drop
    for b in range(B):
        for h in range(H):
            mbh = mask[min(b, mask.shape[0] - 1), min(h, mask.shape[1] - 1)]
            for i in range(bq):
                row, dpr, pdr = s[b, h, i], dp[b, h, i], pd[b, h, i]
                li, di = lse[b, h, i0 + i], delta[b, h, i0 + i]
                _scale_row(row, mbh[min(i0 + i, mbh.shape[0] - 1)][j0:j0 + bk], has_mask, scale,
                           li)
                _exp_inplace(row)
                if has_drop:
                    e0 = np.uint64(((b * H_all + h) * T_q + i0 + i) * T_k + j0)
                    _drop_row(row, e0, key, threshold, keep, pdr)
                    _drop_row(dpr, e0, key, threshold, keep, dpr)
                for j in range(bk):
                    dpr[j] = scale * row[j] * (dpr[j] - di)
