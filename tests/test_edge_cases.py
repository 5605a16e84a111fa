"""Edge cases an independent battery found, each checked against PyTorch (float64) on both
kernel backends: -inf logits, 0-d parameters, powers at 0 and below, axes of size 0, and
the dtype of a float32 model meeting an integer mask."""

import numpy as np
import pytest

import tinytransformer as tt
from tinytransformer import functional as F
from tinytransformer.nn import Parameter
from tinytransformer.optim import Adam, AdamW, clip_grad_norm

torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install -e '.[test]')")
pytestmark = pytest.mark.usefixtures("backend")


def both(x):
    """The same float64 values as an engine leaf and a torch leaf."""
    x = np.asarray(x, dtype=np.float64)
    return tt.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def check(ours, ref, ours_leaves, ref_leaves):
    """Values and gradients equal, NaN where torch has NaN, inf where it has inf."""
    np.testing.assert_allclose(ours.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    ours.sum().backward()
    ref.sum().backward()
    for a, b in zip(ours_leaves, ref_leaves):
        assert isinstance(a.grad, np.ndarray), type(a.grad)
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_minus_inf_logits(smoothing):
    z, zt = both([[-np.inf, 0, 1], [0, 1, 2]])
    target = np.array([1, 2])
    ours = F.cross_entropy(z, target, label_smoothing=smoothing)
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor(target), label_smoothing=smoothing)
    assert np.isnan(ours.item()) == np.isnan(ref.item()) and not np.isnan(ours.item())
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-12)
    if smoothing == 0.0:  # torch's loss is finite (0.8604...) and so are the gradients
        check(ours, ref, [z], [zt])


def test_zero_dim_parameter_used_twice_has_an_array_gradient():
    w = Parameter(np.array(2.0))
    (w * w + w).backward()  # dL/dw = 2w + 1
    assert isinstance(w.grad, np.ndarray) and w.grad.shape == () and w.grad == 5.0
    for opt in (Adam([w], lr=0.1), AdamW([w], lr=0.1)):
        opt.step()  # raised TypeError when .grad was a NumPy scalar
    w.grad = np.asarray(w.grad * 100)
    norm = clip_grad_norm([w], 1.0)
    assert norm == pytest.approx(500.0) and abs(float(w.grad)) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("base, exponent", [
    ([0.0, 2.0, -1.5], [0.0, 0.0, 0.0]),  # x ** 0: gradient 0 everywhere, also at x = 0
    ([0.0, 2.0, -1.0], [0.0, 3.0, 2.0]),  # negative base: d/dy is NaN, as log(-1) is not real
    ([0.0, 0.5, 4.0], [2.0, -1.0, 0.5]),
])
def test_power_at_zero_and_negative_bases(base, exponent):
    x, xt = both(base)
    y, yt = both(exponent)
    check(x ** y, xt ** yt, [x, y], [xt, yt])


def test_power_by_a_constant_zero():
    x, xt = both([0.0, 3.0])
    check(x ** 0, xt ** 0, [x], [xt])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "layer_norm", "linear"])
def test_functions_over_an_axis_of_size_zero(name):
    x, xt = both(np.zeros((2, 0)))
    w, wt = both(np.ones((3, 0)) if name == "linear" else np.ones(0))
    b, bt = both(np.zeros(0))
    ours, ref = {
        "softmax": lambda: (F.softmax(x), torch.softmax(xt, -1)),
        "log_softmax": lambda: (F.log_softmax(x), torch.log_softmax(xt, -1)),
        "layer_norm": lambda: (F.layer_norm(x, w, b), torch.nn.functional.layer_norm(
            xt, (0,), wt, bt)),
        "linear": lambda: (F.linear(x, w), torch.nn.functional.linear(xt, wt)),
    }[name]()
    assert ours.shape == tuple(ref.shape)
    check(ours, ref, [x], [xt])


def test_float32_model_stays_float32_with_integer_masks():
    w = tt.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    mask = np.array([[1, 0, 1], [0, 1, 1]])  # int64, as np.array makes it
    out = (w * mask + np.arange(3)).sum()
    out.backward()
    ref = torch.ones(2, 3) * torch.tensor(mask) + torch.arange(3)
    assert out.dtype == np.float32 and w.grad.dtype == np.float32
    assert str(ref.dtype) == "torch.float32"  # the rule followed is torch's, not NumPy's
