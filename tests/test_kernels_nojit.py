"""The Numba kernels' Python bodies: the kernel suite again with NUMBA_DISABLE_JIT=1.

Compiled kernels hide their source from coverage and from Python's error messages; running
them as plain Python checks the same loops line by line against the NumPy twins.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_kernel_suite_passes_with_jit_disabled():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             "tests/test_kernels.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
