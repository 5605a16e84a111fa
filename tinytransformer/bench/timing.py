"""Timing on a shared, noisy machine: functions run in alternation, medians compared."""

from __future__ import annotations

import time

import numpy as np


def interleaved(fns: dict, repeats: int = 50, warmup: int = 5, clock=time.perf_counter) -> dict:
    """Median seconds per call of each function, timed in alternation.

    The order rotates from one round to the next (A B C, B C A, C A B, ...), so that each
    function follows each other one equally often: a call can slow the next one down (PyTorch's
    OpenMP threads keep spinning for a while after its step, taking a core from the next BLAS
    call), and that cost must not always fall on the same function.

    `clock` is the wall clock by default; `time.process_time` counts this process's CPU time
    instead, which leaves out the moments it waited for a core on a shared machine (the book's
    chapters 1, 3 and 6 time one-thread layers that way).
    """
    names = list(fns)
    for _ in range(warmup):
        for f in fns.values():
            f()
    times = {name: [] for name in fns}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = clock()
            fns[name]()
            times[name].append(clock() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}
