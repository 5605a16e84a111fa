"""A compiled matrix product, register-blocked: the alternative to BLAS that no backend uses.

Every product of the model goes to NumPy's matmul (OpenBLAS). This kernel keeps that choice a
measurement: `tinytransformer bench kernels` races it against BLAS at the model's shapes, and
chapter 10 explains it. BLAS won at every shape measured, so nothing else calls it.

out = a b^T computed 2 rows x 4 columns at a time (`fast.matmul_blocked` passes b transposed,
so that every output is a dot product of two contiguous rows). The block's 8 sums stay in
registers for the whole loop over k, which loads 2 numbers of a and 4 of b^T for 8
multiply-adds; a loop that adds into out[i, j] instead loads and stores out once per
multiply-add. Under fastmath's "reassoc" LLVM vectorises each sum over k (8 float32 lanes).
"""

from __future__ import annotations

import numpy as np

from .fast_kernels import _jit


@_jit()
def _dot(x, y):
    """sum_k x[k] y[k] of two 1-D arrays: the edge rows and columns that fill no 2 x 4 block."""
    s = np.zeros(1, x.dtype)[0]
    for k in range(x.shape[0]):
        s += x[k] * y[k]
    return s


@_jit()
def _matmul_blocked(a, b_t, out):
    """out[n] = a[n] b_t[n]^T in blocks of 2 x 4 outputs.  [N, M, K], [N, P, K] -> out [N, M, P]"""
    zero = np.zeros(1, a.dtype)[0]  # a literal 0 would make the sums float64
    for n in range(a.shape[0]):
        an, bn, on = a[n], b_t[n], out[n]
        M, P = on.shape
        for i in range(0, M - 1, 2):
            a0, a1, o0, o1 = an[i], an[i + 1], on[i], on[i + 1]
            for j in range(0, P - 3, 4):
                b0, b1, b2, b3 = bn[j], bn[j + 1], bn[j + 2], bn[j + 3]
                s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
                for k in range(a0.shape[0]):
                    x0, x1 = a0[k], a1[k]
                    s00 += x0 * b0[k]
                    s01 += x0 * b1[k]
                    s02 += x0 * b2[k]
                    s03 += x0 * b3[k]
                    s10 += x1 * b0[k]
                    s11 += x1 * b1[k]
                    s12 += x1 * b2[k]
                    s13 += x1 * b3[k]
                o0[j], o0[j + 1], o0[j + 2], o0[j + 3] = s00, s01, s02, s03
                o1[j], o1[j + 1], o1[j + 2], o1[j + 3] = s10, s11, s12, s13
        for i in range(M):  # the last P % 4 columns, and every column of an odd last row
            for j in range(0 if M % 2 and i == M - 1 else P - P % 4, P):
                on[i, j] = _dot(an[i], bn[j])
