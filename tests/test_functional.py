"""The fused functions: values, float64 gradient checks, agreement with their composed
forms, and numerical stability. Every test runs once per kernel backend."""

import math

import numpy as np
import pytest

import tinytransformer as tt
from tinytransformer import functional as F
from tinytransformer import ops
from tinytransformer.gradcheck import gradcheck

pytestmark = pytest.mark.usefixtures("backend")

TARGET = np.array([[1, 0, 3], [2, 2, -100]])
IDS = np.array([[0, 2, 2], [1, 0, 2]])
MASK = np.array([[True, False, True, True]] * 3)


def softmax_np(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm_np(x, w, b, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


def rms_norm_np(x, w, eps=1e-6):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def cross_entropy_np(z, y, ignore_index=-100, eps=0.0, reduction="mean"):
    logp = np.log(softmax_np(z))
    keep = y != ignore_index
    onehot = np.eye(z.shape[-1])[np.where(keep, y, 0)]
    q = (1 - eps) * onehot + eps / z.shape[-1]
    rows = -(q * logp).sum(-1) * keep
    return {"none": rows, "sum": rows.sum(), "mean": rows.sum() / keep.sum()}[reduction]


def attention_np(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    s = s if mask is None else np.where(mask, s, -np.inf)
    return softmax_np(s) @ v


def gelu_np(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


# (name, ours, NumPy reference, input shapes)
CASES = [
    ("softmax", lambda x: F.softmax(x), softmax_np, [(3, 5)]),
    ("softmax axis 0", lambda x: F.softmax(x, axis=0), lambda x: softmax_np(x, 0), [(3, 5)]),
    ("softmax 1-D", lambda x: F.softmax(x), softmax_np, [(4,)]),
    ("log_softmax", lambda x: F.log_softmax(x), lambda x: np.log(softmax_np(x)), [(2, 3, 5)]),
    ("log_softmax axis 1", lambda x: F.log_softmax(x, axis=1),
     lambda x: np.log(softmax_np(x, 1)), [(2, 3, 5)]),
    ("gelu", lambda x: F.gelu(x), gelu_np, [(3, 4)]),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))), [(3, 4)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, w, b), layer_norm_np, [(2, 3, 6), (6,), (6,)]),
    ("layer_norm one row", lambda x, w, b: F.layer_norm(x, w, b), layer_norm_np,
     [(1, 4), (4,), (4,)]),
    ("cross_entropy", lambda z: F.cross_entropy(z, TARGET), lambda z: cross_entropy_np(z, TARGET),
     [(2, 3, 4)]),
    ("cross_entropy smoothed", lambda z: F.cross_entropy(z, TARGET, label_smoothing=0.1),
     lambda z: cross_entropy_np(z, TARGET, eps=0.1), [(2, 3, 4)]),
    ("cross_entropy sum", lambda z: F.cross_entropy(z, TARGET, reduction="sum"),
     lambda z: cross_entropy_np(z, TARGET, reduction="sum"), [(2, 3, 4)]),
    ("cross_entropy none",
     lambda z: F.cross_entropy(z, TARGET, label_smoothing=0.2, reduction="none"),
     lambda z: cross_entropy_np(z, TARGET, eps=0.2, reduction="none"), [(2, 3, 4)]),
    ("embedding", lambda w: F.embedding(IDS, w), lambda w: w[IDS], [(3, 5)]),
    ("masked_fill", lambda x: F.masked_fill(x, ~MASK, -2.0), lambda x: np.where(~MASK, -2.0, x),
     [(3, 4)]),
    ("attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v)[0], attention_np,
     [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5)]),
    ("attention masked", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask=MASK)[0],
     lambda q, k, v: attention_np(q, k, v, MASK), [(2, 1, 3, 5), (2, 1, 4, 5), (2, 1, 4, 5)]),
    ("attention one head 3-D", lambda q, k, v: F.scaled_dot_product_attention(q, k, v)[0],
     attention_np, [(2, 3, 4), (2, 5, 4), (2, 5, 4)]),
    ("attention length 1", lambda q, k, v: F.scaled_dot_product_attention(q, k, v)[0],
     attention_np, [(1, 2, 1, 4), (1, 2, 1, 4), (1, 2, 1, 4)]),
    # -- added for the LLaMA-style model (torch parity: tests/test_llama.py) --
    ("silu", lambda x: F.silu(x), lambda x: x / (1 + np.exp(-x)), [(3, 4)]),
    ("sigmoid", lambda x: F.sigmoid(x), lambda x: 1 / (1 + np.exp(-x)), [(3, 4)]),
    ("rms_norm", lambda x, w: F.rms_norm(x, w), rms_norm_np, [(2, 3, 6), (6,)]),
    ("rms_norm eps", lambda x, w: F.rms_norm(x, w, eps=0.5), lambda x, w: rms_norm_np(x, w, 0.5),
     [(1, 4), (4,)]),
]


def make_inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("name, ours, reference, shapes", CASES, ids=[c[0] for c in CASES])
def test_value(name, ours, reference, shapes):
    arrays = make_inputs(shapes)
    out = ours(*[tt.Tensor(a) for a in arrays])
    np.testing.assert_allclose(out.data, reference(*arrays), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, ours, reference, shapes", CASES, ids=[c[0] for c in CASES])
def test_gradient(name, ours, reference, shapes):
    report = gradcheck(ours, *make_inputs(shapes))
    assert report.passed, report


# The teaching forms, composed from primitives only: the fused ops must agree with them.
def softmax_composed(x):
    e = (x - x.max(axis=-1, keepdims=True)).exp()
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm_composed(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / (var + eps).sqrt() * w + b


def cross_entropy_composed(z, y, eps):
    logp = z - z.max(axis=-1, keepdims=True)
    logp = logp - logp.exp().sum(axis=-1, keepdims=True).log()
    q = (1 - eps) * np.eye(z.shape[-1])[y] + eps / z.shape[-1]
    return -(logp * q).sum() / len(y)


COMPOSED = [
    ("linear", F.linear, lambda x, w, b: x @ w.T + b, [(2, 3, 5), (4, 5), (4,)]),
    ("softmax", F.softmax, softmax_composed, [(4, 7)]),
    ("layer_norm", F.layer_norm, layer_norm_composed, [(4, 7), (7,), (7,)]),
    ("cross_entropy", lambda z: F.cross_entropy(z, np.array([1, 0, 6, 2]), label_smoothing=0.1),
     lambda z: cross_entropy_composed(z, np.array([1, 0, 6, 2]), 0.1), [(4, 7)]),
    ("silu", F.silu, lambda x: x * ops.sigmoid(x), [(4, 7)]),
    ("rms_norm", F.rms_norm,
     lambda x, w: x / ((x * x).mean(axis=-1, keepdims=True) + 1e-6).sqrt() * w, [(2, 4, 7), (7,)]),
]


@pytest.mark.parametrize("name, fused, composed, shapes", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_fused_equals_composed(name, fused, composed, shapes):
    arrays = make_inputs(shapes, seed=3)
    results = []
    for f in (fused, composed):
        inputs = [tt.Tensor(a.copy(), requires_grad=True) for a in arrays]
        out = f(*inputs)
        out.backward(np.ones(out.shape))
        results.append((out.data, [t.grad for t in inputs]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-13)
    for g_fused, g_composed in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(g_fused, g_composed, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_logits(dtype):
    z = tt.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype), requires_grad=True)
    for out in (F.softmax(z), F.log_softmax(z),
                F.cross_entropy(z, np.array([1, 0]), label_smoothing=0.1)):
        out.backward(np.ones(out.shape, dtype=dtype))
        assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(z.grad))
    np.testing.assert_allclose(F.softmax(z).data[0], [1, 0, 0])
    np.testing.assert_allclose(F.log_softmax(z).data[1], [-math.log(3)] * 3, rtol=1e-6)


def test_softmax_with_minus_inf_entries():
    z = tt.Tensor(np.array([[0.0, -np.inf, 1.0]]), requires_grad=True)
    y = F.softmax(z)
    np.testing.assert_allclose(y.data, [[1 / (1 + math.e), 0.0, math.e / (1 + math.e)]])
    y.backward(np.ones_like(y.data))
    assert np.all(np.isfinite(z.grad))


def test_fully_masked_attention_row_is_zero_not_nan():
    """Documented convention: a query that may attend to no key gets weights 0 and output 0."""
    rng = np.random.default_rng(0)
    q, k, v = (tt.Tensor(rng.standard_normal((1, 1, 2, 3)), requires_grad=True) for _ in range(3))
    mask = np.array([[False, False], [True, False]])
    out, w = F.scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.array_equal(w[0, 0, 0], [0.0, 0.0]) and np.array_equal(out.data[0, 0, 0], [0, 0, 0])
    np.testing.assert_allclose(w[0, 0, 1], [1.0, 0.0])
    out.sum().backward()
    assert all(np.all(np.isfinite(t.grad)) for t in (q, k, v))


def test_cross_entropy_all_ignored_is_zero():
    z = tt.Tensor(np.zeros((2, 3)), requires_grad=True)
    loss = F.cross_entropy(z, np.array([-100, -100]))
    loss.backward()
    assert loss.item() == 0.0 and not z.grad.any()


def test_dropout_train_and_eval():
    x = tt.Tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, p=0.3, rng=np.random.default_rng(5))
    kept = y.data != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, y.data)  # d(dropout)/dx is the same mask
    again = F.dropout(x, p=0.3, rng=np.random.default_rng(5))
    assert np.array_equal(again.data, y.data)  # seeded: repeatable
    assert F.dropout(x, p=0.3, training=False) is x


def test_dropout_gradient_with_fixed_mask():
    report = gradcheck(lambda x: F.dropout(x, 0.4, rng=np.random.default_rng(1)),
                       make_inputs([(5, 6)])[0])
    assert report.passed, report


ERRORS = [
    ("layer_norm weight", lambda: F.layer_norm(tt.Tensor(np.ones((2, 4))), tt.Tensor(np.ones(3)),
                                               tt.Tensor(np.zeros(3))), ValueError,
     r"layer_norm: input \(2, 4\) needs weight and bias of shape \(4,\)"),
    ("cross_entropy shapes",
     lambda: F.cross_entropy(tt.Tensor(np.ones((2, 4))), np.array([1, 2, 3])),
     ValueError, r"cross_entropy: logits \(2, 4\) need target of shape \(2,\)"),
    ("cross_entropy range", lambda: F.cross_entropy(tt.Tensor(np.ones((2, 4))), np.array([1, 4])),
     IndexError, "out of range for 4 classes"),
    ("embedding range", lambda: F.embedding(np.array([0, 7]), tt.Tensor(np.ones((5, 2)))),
     IndexError, r"embedding: ids must lie in \[0, 5\)"),
    ("attention mask", lambda: F.scaled_dot_product_attention(
        *[tt.Tensor(np.ones((2, 1, 3, 4)))] * 3, mask=np.ones((5, 5), dtype=bool)),
     ValueError, r"mask of shape \(5, 5\) does not broadcast .* \(2, 1, 3, 3\)"),
    ("attention mask dtype", lambda: F.scaled_dot_product_attention(
        *[tt.Tensor(np.ones((2, 1, 3, 4)))] * 3, mask=np.ones((3, 3))),
     TypeError, "must be boolean"),
    ("gelu kind", lambda: F.gelu(tt.Tensor([1.0]), approximate="fast"),
     ValueError, "'none' or 'tanh'"),
]


@pytest.mark.parametrize("name, thunk, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_op_and_shapes(name, thunk, error, message):
    with pytest.raises(error, match=message):
        thunk()


def test_masked_fill_and_where_agree():
    x = tt.Tensor(np.arange(12.0).reshape(3, 4))
    assert np.array_equal(F.masked_fill(x, MASK, 0.0).data, ops.where(MASK, 0.0, x).data)


# --- each range check once a step, and no kernel left unguarded --------------------------------


def _count_checks(monkeypatch):
    """Calls of kernels.checks.check_ids, wherever they come from."""
    from tinytransformer.kernels import checks

    calls = []
    real = checks.check_ids

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(checks, "check_ids", spy)
    monkeypatch.setattr(tt.kernels, "check_ids", spy)
    return calls


def test_targets_and_ids_are_range_checked_once_a_step(monkeypatch):
    calls = _count_checks(monkeypatch)
    z = tt.Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    F.cross_entropy(z, TARGET, label_smoothing=0.1).backward()
    w = tt.Tensor(np.ones((3, 5)), requires_grad=True)
    F.embedding(IDS, w).sum().backward()
    assert calls == ["cross_entropy", "embedding"]  # forward and backward kernels reuse them


def test_kernels_called_directly_check_their_ids():
    from tinytransformer import kernels

    x, g = np.zeros((2, 3)), np.ones(2)
    bad = np.array([0, 3])
    with pytest.raises(kernels.OutOfRange, match=r"target\[1\] = 3 is not a class id"):
        kernels.cross_entropy_backward(x, np.zeros(2), bad, g)
    with pytest.raises(IndexError, match=r"ids must lie in \[0, 3\)"):
        kernels.embedding_backward(bad, np.ones((2, 4)), 3)
    checked = kernels.check_ids("test", np.array([0, 2]), 3, -100)
    with pytest.raises(ValueError, match="checked for 3 entries"):
        kernels.cross_entropy_forward(np.zeros((2, 5)), checked)  # another table: not trusted
    loss, _ = kernels.cross_entropy_forward(x, checked)
    assert loss.shape == (2,) and not checked.ids.flags.writeable


def test_dropout_p_is_checked_where_it_is_meant():
    x = tt.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\)"):
        F.dropout(x, p=1.0)
    q = tt.Tensor(np.ones((1, 1, 2, 4)))
    for tiled, message in ((False, "dropout_mask: p = 1.5"), (True, "drop must be")):
        with pytest.raises(ValueError, match=message):
            F.scaled_dot_product_attention(q, q, q, dropout_p=1.5, tiled=tiled)
