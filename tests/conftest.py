"""Shared test configuration: the `slow` marker, the hypothesis profile for CI, the
kernel-backend fixture, and a tiny trained translator."""

import os

import pytest
from hypothesis import settings

from tinytransformer import kernels
from tinytransformer.train import Trainer

from .tiny_translator import tiny_config

settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    # pyproject.toml's [tool.pytest.ini_options] would be the usual place; registered here so
    # that `pytest --strict-markers` knows it. `pytest -m "not slow"` is the fast suite.
    config.addinivalue_line(
        "markers", "slow: more than ~5 s: executes the notebooks, re-runs the kernel suite "
        "without JIT, or trains a model for tens of steps (deselect with -m \"not slow\")")


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    """Run the test once per kernel backend (`pytestmark = pytest.mark.usefixtures("backend")`)."""
    previous = kernels.get_backend()
    kernels.set_backend(request.param)
    yield request.param
    kernels.set_backend(previous)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny translator trained for 40 steps, once for test_translator.py and test_decode.py:
    (run folder, trainer)."""
    run = tmp_path_factory.mktemp("run")
    trainer = Trainer(tiny_config(), run, log=lambda *a: None)
    trainer.run(progress=False)
    return run, trainer
