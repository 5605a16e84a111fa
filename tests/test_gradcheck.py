"""gradcheck: the gradient checker itself, which the op, layer and model tests rely on."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytransformer as tt
from tinytransformer.gradcheck import gradcheck


@given(st.integers(1, 4), st.integers(1, 4))
def test_gradcheck_catches_a_wrong_gradient(n, m):
    """The checker itself must be able to fail: a deliberately wrong backward is caught."""
    def wrong_square(x):
        return tt.Tensor.from_op(x.data**2, (x,), lambda g: (g * x.data,), "wrong")  # should be 2x
    x = np.random.default_rng(n * 10 + m).standard_normal((n, m)) + 3.0
    report = gradcheck(wrong_square, x)
    assert not report.passed
    with pytest.raises(AssertionError, match="gradcheck FAILED"):
        gradcheck(wrong_square, x, raise_on_fail=True)
