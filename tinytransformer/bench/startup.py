"""Start-up: a new process to the end of one training step, with a cold and a warm Numba cache."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

_STARTUP = """
import time; t0 = time.perf_counter()
from tinytransformer.bench.step import ours
ours(0.1, "numba")()  # one training step: every kernel `train` uses
print(time.perf_counter() - t0)
"""


def measure() -> dict:
    """Seconds to import and run one training step in a new process: cold and warm Numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [float(subprocess.run([sys.executable, "-c", _STARTUP], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()[-1])
                for _ in range(2)]
    r = {"cold_s": runs[0], "warm_s": runs[1]}
    print(f"start-up to the end of one training step, new process (Numba backend):\n"
          f"  cold cache {r['cold_s']:.1f} s (compiles every kernel)"
          f"   warm cache {r['warm_s']:.1f} s")
    return r
