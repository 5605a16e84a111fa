"""The book's exercise checks say right, wrong (with the reason) or not attempted."""

import numpy as np
import pytest

import tinytransformer as tt
from tinytransformer.exercises import NOT_ATTEMPTED, check

CASES = [  # (name, answer, expected, result, words the message must hold)
    ("stub", None, 1.0, None, NOT_ATTEMPTED),
    ("ellipsis stub", ..., 1.0, None, NOT_ATTEMPTED),
    ("number", 0.5 + 1e-12, 0.5, True, "right"),
    ("number off", 0.6, 0.5, False, "got 0.6, expected 0.5"),
    ("array", np.eye(2), np.eye(2), True, "right"),
    ("tensor", tt.Tensor(np.ones(3)), np.ones(3), True, "right"),
    ("shape", np.ones((2, 3)), np.ones((3, 2)), False, "shape (2, 3), expected (3, 2)"),
    ("where", np.array([1.0, 2.0, 9.0]), np.array([1.0, 2.0, 3.0]), False, "at index (2,)"),
    ("string", "ab", "ab", True, "right"),
    ("string off", "ba", "ab", False, "got 'ba', expected 'ab'"),
    ("tokens", ["a", "b"], ["a", "b"], True, "right"),
    ("predicate", 3, lambda a: None if a % 2 else "it is even", True, "right"),
    ("predicate off", 4, lambda a: None if a % 2 else "it is even", False, "it is even"),
    ("not numbers", np.array(["x"]), np.array([1.0]), False, "expected numbers"),
]


@pytest.mark.parametrize("name, answer, expected, result, words", CASES, ids=[c[0] for c in CASES])
def test_check(name, answer, expected, result, words, capsys):
    assert check(answer, expected, name=name) is result
    out = capsys.readouterr().out
    assert out.startswith(f"{name}: ") and words in out, out
