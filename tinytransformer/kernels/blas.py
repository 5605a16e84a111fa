"""NumPy's OpenBLAS on one thread for the span of a call: what threadpoolctl does, for one library.

Tiled attention makes hundreds of small products (a tile of [B, H, bq, D] @ [B, H, D, bk]), and
OpenBLAS splits each of them between its threads, which must all meet at the end of the product.
On a shared 2-core machine a thread that has been descheduled makes the other wait for a whole time
slice: measured at T = 4096 (B = 1, H = 4, D = 32) under a load of ~10, tiled attention took 2.0x
the fused kernel's time with 2 BLAS threads and 0.36x with 1. Products this small gain little from
a second thread even on a quiet machine, so the tiled kernels run with one.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools


@functools.cache
def _openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS that NumPy loaded, or None (another BLAS,
    or no /proc: then nothing is changed)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and "numpy" in line})
    except OSError:
        return None
    for path in paths:
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                return get, put
    return None


@contextlib.contextmanager
def one_thread():
    """Inside the block NumPy's OpenBLAS uses one thread (process-wide); the count is restored."""
    blas = _openblas()
    if blas is None:
        yield
        return
    get, put = blas
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)
