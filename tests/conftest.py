"""Shared test configuration: the hypothesis profile for CI and the kernel-backend fixture."""

import os

import pytest
from hypothesis import settings

from tinytransformer import kernels

settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    """Run the test once per kernel backend (`pytestmark = pytest.mark.usefixtures("backend")`)."""
    previous = kernels.get_backend()
    kernels.set_backend(request.param)
    yield request.param
    kernels.set_backend(previous)
