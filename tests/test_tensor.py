"""tensor: the engine. dtypes, gradients that add up, backward in an iterative and
deterministic topological order, detach/no_grad, anomaly mode, and unbroadcast."""

import numpy as np
import pytest

import tinytransformer as tt


def test_float32_stays_float32():
    x = tt.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = (2.0 * x + 1).exp().sum()
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert tt.Tensor([1.0, 2.0]).dtype == np.float32
    assert tt.Tensor(np.ones(2)).dtype == np.float64  # float64 arrays are honoured
    assert tt.Tensor(np.float64(3.0)).dtype == np.float64  # and NumPy scalars


def test_node_used_twice_gets_sum_of_gradients():
    x = tt.Tensor([3.0], requires_grad=True)
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    assert x.grad[0] == 7.0


def test_backward_twice_accumulates():
    x = tt.Tensor([3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()  # the graph is kept; the same gradient is added again
    assert x.grad[0] == 12.0
    x.zero_grad()
    y.backward()
    assert x.grad[0] == 6.0


def test_deep_chain_backpropagates_without_recursion():
    x = tt.Tensor([1.0], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**10_000], rtol=1e-10)


def test_backward_order_is_deterministic():
    def grads():
        a = tt.Tensor(np.linspace(0, 1, 5, dtype=np.float32), requires_grad=True)
        b = a * 3.0
        ((a * b).exp().sum() + (b * a).tanh().sum()).backward()
        return a.grad
    assert np.array_equal(grads(), grads())


def test_detach_and_no_grad_record_nothing():
    x = tt.Tensor([1.0, 2.0], requires_grad=True)
    assert not x.detach().requires_grad
    with tt.no_grad():
        y = x * 2
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_anomaly_mode_names_the_op():
    x = tt.Tensor([-1.0, 1.0], requires_grad=True)
    with tt.detect_anomaly(), pytest.raises(FloatingPointError,
                                            match="sqrt produced NaN in its forward"):
        with np.errstate(invalid="ignore"):
            x.sqrt()
    z = tt.Tensor([0.0, 1.0], requires_grad=True)
    y = z.sqrt().sum()  # forward is finite; d sqrt / dx at 0 is inf
    with tt.detect_anomaly(), pytest.raises(FloatingPointError,
                                            match="sqrt produced Inf in its backward"):
        with np.errstate(divide="ignore"):
            y.backward()
    with np.errstate(invalid="ignore"):
        x.sqrt()  # outside the block, NaN passes silently, as in NumPy


def test_unbroadcast_is_the_adjoint_of_broadcasting():
    rng = np.random.default_rng(1)
    a, g = rng.standard_normal((3, 1)), rng.standard_normal((2, 3, 4))
    # <broadcast(a), g> == <a, unbroadcast(g)>
    assert np.isclose(np.sum(np.broadcast_to(a, g.shape) * g),
                      np.sum(a * tt.unbroadcast(g, a.shape)))
