"""NumPy's OpenBLAS on one thread for the span of a call (blas_threads.py finds its setter).

Tiled attention makes hundreds of small products (a tile of [B, H, bq, D] @ [B, H, D, bk]), and
OpenBLAS splits each of them between its threads, which must all meet at the end of the product.
On a shared 2-core machine a thread that has been descheduled makes the other wait for a whole time
slice: measured at T = 4096 (B = 1, H = 4, D = 32) under a load of ~10, tiled attention took 2.0x
the fused kernel's time with 2 BLAS threads and 0.36x with 1. Products this small gain little from
a second thread even on a quiet machine, so the tiled kernels run with one.
"""

from __future__ import annotations

import contextlib

from .blas_threads import set_blas_threads


@contextlib.contextmanager
def one_thread():
    """Inside the block NumPy's OpenBLAS uses one thread (process-wide); the count is restored."""
    previous = set_blas_threads(1)  # None where OpenBLAS was not found: nothing changed
    try:
        yield
    finally:
        if previous is not None:
            set_blas_threads(previous)
