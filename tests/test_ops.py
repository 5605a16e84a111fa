"""The primitive ops: values against NumPy, gradients against finite differences (float64)."""

import numpy as np
import pytest
from hypothesis import given

import tinytransformer as tt
from tinytransformer import ops
from tinytransformer.gradcheck import gradcheck

from .strategies import broadcastable_shapes

MASK = np.array([[True, False, True, False]] * 3)
TAKE = np.array([[3, 0, 3], [1, 1, 2], [0, 2, 3]])  # repeats: their gradients add up

# (name, ours, NumPy reference, input shapes, inputs must be positive)
CASES = [
    ("add", lambda a, b: a + b, np.add, [(3, 4), (4,)], False),
    ("add 0-d", lambda a, b: a + b, np.add, [(), (2, 3)], False),
    ("sub", lambda a, b: a - b, np.subtract, [(2, 1, 3), (4, 1)], False),
    ("rsub scalar", lambda a: 2.0 - a, lambda a: 2.0 - a, [(3,)], False),
    ("mul", lambda a, b: a * b, np.multiply, [(1,), (3, 1)], False),
    ("mul size-1 axes", lambda a, b: a * b, np.multiply, [(1, 4), (3, 1)], False),
    ("div", lambda a, b: a / b, np.divide, [(2, 3), (3,)], True),
    ("rdiv scalar", lambda a: 1.0 / a, lambda a: 1.0 / a, [(2, 3)], True),
    ("neg", lambda a: -a, np.negative, [(5,)], False),
    ("pow scalar", lambda a: a**3, lambda a: a**3, [(2, 3)], False),
    ("pow tensor", lambda a, b: a**b, np.power, [(2, 3), (3,)], True),
    ("matmul", lambda a, b: a @ b, np.matmul, [(3, 4), (4, 5)], False),
    ("matmul batched", lambda a, b: a @ b, np.matmul, [(2, 1, 3, 4), (5, 4, 2)], False),
    ("matmul 1-D @ 2-D", lambda a, b: a @ b, np.matmul, [(4,), (4, 3)], False),
    ("matmul 2-D @ 1-D", lambda a, b: a @ b, np.matmul, [(3, 4), (4,)], False),
    ("matmul 1-D @ 1-D", lambda a, b: a @ b, np.matmul, [(4,), (4,)], False),
    ("matmul 3-D @ 1-D", lambda a, b: a @ b, np.matmul, [(2, 3, 4), (4,)], False),
    ("matmul 1-D @ 3-D", lambda a, b: a @ b, np.matmul, [(3,), (2, 3, 4)], False),
    ("sum", lambda a: a.sum(), np.sum, [(3, 4)], False),
    ("sum 0-d", lambda a: a.sum(), np.sum, [()], False),
    ("sum axis keepdims", lambda a: a.sum(axis=1, keepdims=True),
     lambda a: a.sum(axis=1, keepdims=True), [(3, 4)], False),
    ("sum axes", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)], False),
    ("mean", lambda a: a.mean(), np.mean, [(3, 4)], False),
    ("mean axis -1", lambda a: a.mean(axis=-1), lambda a: a.mean(axis=-1), [(2, 3, 4)], False),
    ("max", lambda a: a.max(), np.max, [(3, 4)], False),
    ("max axis", lambda a: a.max(axis=0), lambda a: a.max(axis=0), [(3, 4)], False),
    ("max keepdims", lambda a: a.max(axis=-1, keepdims=True),
     lambda a: a.max(axis=-1, keepdims=True), [(2, 3, 4)], False),
    ("reshape", lambda a: a.reshape(6, 2), lambda a: a.reshape(6, 2), [(3, 4)], False),
    ("reshape -1", lambda a: a.reshape(-1), lambda a: a.reshape(-1), [(3, 4)], False),
    ("transpose", lambda a: a.transpose(), np.transpose, [(2, 3, 4)], False),
    ("T", lambda a: a.T, np.transpose, [(2, 3)], False),
    ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [(2, 3, 4)], False),
    ("swapaxes", lambda a: a.swapaxes(0, 2), lambda a: a.swapaxes(0, 2), [(2, 3, 4)], False),
    ("index int", lambda a: a[1], lambda a: a[1], [(3, 4)], False),
    ("index slices", lambda a: a[:, 1:3], lambda a: a[:, 1:3], [(3, 4)], False),
    ("index steps", lambda a: a[::-1, ::2], lambda a: a[::-1, ::2], [(3, 4)], False),
    ("index repeated ints", lambda a: a[np.array([0, 2, 0, 0])],
     lambda a: a[np.array([0, 2, 0, 0])], [(3, 4)], False),
    ("index array and slice", lambda a: a[np.array([1, 1]), 1:],
     lambda a: a[np.array([1, 1]), 1:], [(3, 4)], False),
    ("concatenate", lambda a, b: ops.concatenate([a, b], axis=1),
     lambda a, b: np.concatenate([a, b], axis=1), [(2, 3), (2, 2)], False),
    ("stack", lambda a, b: ops.stack([a, b], axis=1),
     lambda a, b: np.stack([a, b], axis=1), [(2, 3), (2, 3)], False),
    # slices of one tensor share one gradient buffer (tensor.Scatter); mixed with dense uses
    ("slices of one tensor", lambda a: a[0] * a[1] + a[2] * a[0],
     lambda a: a[0] * a[1] + a[2] * a[0], [(3, 4)], False),
    ("slice and whole", lambda a: a * a[1] + a[::2].sum(axis=0),
     lambda a: a * a[1] + a[::2].sum(axis=0), [(3, 4)], False),
    ("slices of an op's output", lambda a: (lambda b: b[0] * b + b[1:, 2:].sum())(a.exp()),
     lambda a: (lambda b: b[0] * b + b[1:, 2:].sum())(np.exp(a)), [(3, 4)], False),
    ("slice of a tensor whose gradient is shared", lambda a: a[1] + a + a.exp(),
     lambda a: a[1] + a + np.exp(a), [(3, 4)], False),
    ("shared gradient, then slice", lambda a: a.exp() + (a[0] + a),
     lambda a: np.exp(a) + (a[0] + a), [(3, 4)], False),  # add hands g to a and to exp
    ("repeated index and slice", lambda a: a[np.array([0, 2, 0])] * a[1],
     lambda a: a[np.array([0, 2, 0])] * a[1], [(3, 4)], False),
    ("split", lambda a: ops.concatenate(ops.split(a, [1, 3], axis=1)[::-1], axis=1),
     lambda a: np.concatenate(np.split(a, [1, 3], axis=1)[::-1], axis=1), [(2, 5)], False),
    ("exp", lambda a: a.exp(), np.exp, [(3, 4)], False),
    ("log", lambda a: a.log(), np.log, [(3, 4)], True),
    ("sqrt", lambda a: a.sqrt(), np.sqrt, [(3, 4)], True),
    ("tanh", lambda a: a.tanh(), np.tanh, [(3, 4)], False),
    ("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), [(3, 4)], False),
    ("where", lambda a, b: ops.where(MASK, a, b), lambda a, b: np.where(MASK, a, b),
     [(3, 4), (4,)], False),
    # -- added with the LLaMA ops (torch parity for the same rows: tests/test_llama.py) --
    ("sigmoid", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), [(3, 4)], False),
    ("abs", lambda a: a.abs(), np.abs, [(3, 4)], False),
    ("clamp", lambda a: a.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), [(3, 4)], False),
    ("clamp min only", lambda a: a.clamp(min=0.1), lambda a: np.clip(a, 0.1, None), [(3, 4)],
     False),
    ("maximum", lambda a, b: ops.maximum(a, b), np.maximum, [(3, 4), (4,)], False),
    ("minimum", lambda a, b: ops.minimum(a, b), np.minimum, [(2, 1, 3), (4, 1)], False),
    ("min", lambda a: a.min(), np.min, [(3, 4)], False),
    ("min axis keepdims", lambda a: a.min(axis=0, keepdims=True),
     lambda a: a.min(axis=0, keepdims=True), [(3, 4)], False),
    ("var", lambda a: a.var(), lambda a: np.var(a, ddof=1), [(3, 4)], False),
    ("var axis ddof 0", lambda a: a.var(axis=-1, ddof=0), lambda a: np.var(a, axis=-1),
     [(2, 3, 4)], False),
    ("var axes keepdims", lambda a: a.var(axis=(0, 2), keepdims=True, correction=1),
     lambda a: np.var(a, axis=(0, 2), keepdims=True, ddof=1), [(2, 3, 4)], False),
    ("take_along_axis", lambda a: ops.take_along_axis(a, TAKE, 1),
     lambda a: np.take_along_axis(a, TAKE, 1), [(3, 4)], False),
    ("take_along_axis broadcast", lambda a: ops.take_along_axis(a, TAKE[:1], 1),
     lambda a: np.take_along_axis(a, TAKE[:1], 1), [(3, 4)], False),
    ("gather smaller index", lambda a: a.gather(0, TAKE[:2, :2] % 3),
     lambda a: np.take_along_axis(a[:, :2], TAKE[:2, :2] % 3, 0), [(3, 4)], False),
]


def make_inputs(shapes, positive, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return [np.abs(a) + 0.5 if positive else a for a in arrays]


@pytest.mark.parametrize("name, ours, reference, shapes, positive", CASES,
                         ids=[c[0] for c in CASES])
def test_value(name, ours, reference, shapes, positive):
    arrays = make_inputs(shapes, positive)
    out = ours(*[tt.Tensor(a) for a in arrays])
    np.testing.assert_allclose(out.data, reference(*arrays), rtol=1e-13, atol=1e-13)
    assert out.shape == np.shape(reference(*arrays))


@pytest.mark.parametrize("name, ours, reference, shapes, positive", CASES,
                         ids=[c[0] for c in CASES])
def test_gradient(name, ours, reference, shapes, positive):
    report = gradcheck(ours, *make_inputs(shapes, positive))
    assert report.passed, report


@given(broadcastable_shapes(2))
def test_broadcasting_gradients(shapes):
    for op in (ops.add, ops.sub, ops.mul):
        report = gradcheck(op, *make_inputs(shapes, False))
        assert report.passed, report


ERRORS = [
    ("add shapes", lambda: tt.Tensor(np.ones((2, 3))) + tt.Tensor(np.ones((4,))), ValueError,
     r"add: shapes \(2, 3\) and \(4,\)"),
    ("matmul inner", lambda: tt.Tensor(np.ones((2, 3))) @ tt.Tensor(np.ones((4, 5))), ValueError,
     r"matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\)"),
    ("reshape", lambda: tt.Tensor(np.ones((2, 3))).reshape(4, 2), ValueError,
     r"reshape: cannot reshape \(2, 3\)"),
    ("index", lambda: tt.Tensor(np.ones((2, 3)))[5], IndexError, r"getitem: .*shape \(2, 3\)"),
    ("integer grad", lambda: tt.Tensor(np.arange(3), requires_grad=True), TypeError,
     "only floating tensors"),
    ("non-scalar backward", lambda: (tt.Tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
     RuntimeError, r"only on a scalar.*shape \(2,\)"),
    ("concatenate",
     lambda: ops.concatenate([tt.Tensor(np.ones((2, 3))), tt.Tensor(np.ones((3, 3)))], axis=1),
     ValueError, "concatenate: shapes"),
]


@pytest.mark.parametrize("name, thunk, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_op_and_shapes(name, thunk, error, message):
    with pytest.raises(error, match=message):
        thunk()
