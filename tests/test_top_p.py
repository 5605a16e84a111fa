"""Top-p (nucleus) sampling in generate.py: the smallest set of most likely tokens whose
probability reaches p, renormalised; draws follow it; p = 1 changes nothing."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytransformer.generate import sample_next, temperature_softmax, top_p_filter

P = np.array([[0.5, 0.3, 0.15, 0.05]])


@pytest.mark.parametrize("top_p, expected", [
    (0.3, [1, 0, 0, 0]),
    (0.5, [1, 0, 0, 0]),  # the first token alone reaches 0.5
    (0.6, [0.625, 0.375, 0, 0]),
    (0.95, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]),
    (1.0, [0.5, 0.3, 0.15, 0.05]),
])
def test_the_nucleus_by_hand(top_p, expected):
    np.testing.assert_allclose(top_p_filter(P, top_p), [expected], atol=1e-12)


@given(z=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 8)),
                    elements=st.floats(-10, 10)),
       top_p=st.floats(0.01, 1.0))
def test_the_nucleus_is_the_smallest_set_of_most_likely_tokens(z, top_p):
    p = temperature_softmax(z, 1.0)
    q = top_p_filter(p, top_p)
    np.testing.assert_allclose(q.sum(-1), 1.0)
    for p_row, q_row in zip(p, q):
        kept = q_row > 0
        assert p_row[kept].min() >= p_row[~kept].max(initial=0.0)  # the most likely ones
        assert p_row[kept].sum() >= top_p - 1e-12  # reaches p ...
        assert p_row[kept].sum() - p_row[kept].min() < top_p + 1e-12  # ... and no smaller set
        np.testing.assert_allclose(q_row[kept], p_row[kept] / p_row[kept].sum())


def test_draws_follow_the_nucleus():
    z = np.log(P[0])
    draws = sample_next(np.tile(z, (40_000, 1)), 1.0, np.random.default_rng(0), top_p=0.6)
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, [0.625, 0.375, 0, 0], atol=0.01)


def test_top_p_one_changes_no_draw():
    z = np.random.default_rng(1).standard_normal((50, 9))
    a = sample_next(z, 0.8, np.random.default_rng(2), top_p=1.0)
    b = sample_next(z, 0.8, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("top_p", [0.0, -0.5, 1.5])
def test_top_p_outside_0_1_is_refused(top_p):
    with pytest.raises(ValueError, match="top_p must be in \\(0, 1\\]"):
        top_p_filter(P, top_p)
