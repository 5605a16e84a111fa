"""How many threads NumPy's BLAS (OpenBLAS) may use, changed while the program runs.

OPENBLAS_NUM_THREADS sets it, but only before NumPy loads. The pretrained LLM's commands need
to choose later: on the shared 2-core machine, whenever another process held a core, a second
OpenBLAS thread made attention's [768, 64] @ [64, 256] product 40x slower (47 ms instead of
1.1 ms) and a 256-token prompt 3-4x slower, because OpenBLAS's threads spin-wait for each
other; on an idle machine the second thread is worth at most 2x, on long prompts only. So
`chat` and `generate` run BLAS on one thread unless told otherwise (`--threads`).

OpenBLAS has a function for this, `openblas_set_num_threads`; NumPy's wheels ship it renamed
(`scipy_openblas_set_num_threads64_`) inside their own copy of the library. We find that
library among the files the process has mapped (/proc/self/maps, so Linux only) and call it.
Where it cannot be found (another BLAS, another system) nothing changes, and the functions say
so by returning None.
"""

from __future__ import annotations

import ctypes
import functools

_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


@functools.cache
def _functions():
    """(set, get) from the loaded OpenBLAS, or None."""
    import numpy  # noqa: F401  (loads the library if nothing has yet)

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in paths:
        lib = ctypes.CDLL(path)
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    return setter, getter
    return None


def get_blas_threads() -> int | None:
    """The number of threads OpenBLAS uses now (None: not found)."""
    found = _functions()
    return None if found is None else int(found[1]())


def set_blas_threads(n: int) -> int | None:
    """Let OpenBLAS use `n` threads from now on; returns the previous number (None: not found)."""
    if n < 1:
        raise ValueError(f"set_blas_threads: n must be >= 1, got {n}")
    found = _functions()
    if found is None:
        return None
    previous = int(found[1]())
    found[0](int(n))
    return previous
