"""memory.py: glibc keeps freed blocks for reuse after import; the opt-out leaves malloc alone."""

import platform

import pytest

from tinytransformer import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_glibc_accepts_the_thresholds():
    assert memory.keep_freed_memory() is True


@pytest.mark.parametrize("env, calls", [(None, 1), ("keep", 1), ("1", 1), ("default", 0), ("0", 0),
                                       ("off", 0), ("False", 0), (" no ", 0)])
def test_opt_out(monkeypatch, env, calls):
    seen = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: seen.append(1))
    if env is None:
        monkeypatch.delenv("TINYTRANSFORMER_MALLOC", raising=False)
    else:
        monkeypatch.setenv("TINYTRANSFORMER_MALLOC", env)
    memory._on_import()
    assert len(seen) == calls
