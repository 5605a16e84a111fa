"""Hypothesis strategies shared by the tests."""

from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def broadcastable_shapes(n: int, max_dims: int = 3, max_side: int = 3):
    """`n` shapes that broadcast together, including size-1 axes and 0-d shapes."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda s: list(s.input_shapes))
