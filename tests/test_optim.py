"""Optimisers, schedules and clipping against formulas written out again here, and PyTorch."""

import math

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytransformer.optim import SGD, Adam, AdamW, clip_grad_norm, cosine_lr, noam_lr
from tinytransformer.tensor import Tensor

SHAPES = [(4, 3), (5,), (2, 3, 2)]

# (name, our optimiser, hyperparameters); torch takes the same keyword arguments
CASES = [
    ("sgd", SGD, dict(lr=0.1)),
    ("sgd_momentum", SGD, dict(lr=0.05, momentum=0.9)),
    ("sgd_nesterov_l2", SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", Adam, dict(lr=0.05)),
    ("adam_l2", Adam, dict(lr=0.05, weight_decay=0.1)),
    ("adamw", AdamW, dict(lr=0.05, weight_decay=0.1)),
]
IDS = [c[0] for c in CASES]


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=s).astype(dtype), requires_grad=True) for s in SHAPES]


def quadratic_grads(params, a, c):
    """f(p) = ½ Σ a (p - c)²,  df/dp = a (p - c)."""
    for p, a_i, c_i in zip(params, a, c, strict=True):
        p.grad = a_i * (p.data - c_i)


def quadratic(seed=1):
    rng = np.random.default_rng(seed)
    a = [rng.uniform(0.5, 2.0, size=s) for s in SHAPES]
    c = [rng.normal(size=s) for s in SHAPES]
    return a, c


# -- one step against the formula, written out independently ----------------------------------
# (name, optimiser, its hyperparameters, p_new = reference(p, g)) for the first step from zero state
LR, B1, B2, EPS, WD, MU = 0.01, 0.9, 0.98, 1e-9, 0.1, 0.9
ONE_STEP = [
    ("sgd", SGD, dict(lr=LR), lambda p, g: p - LR * g),
    ("sgd_l2", SGD, dict(lr=LR, weight_decay=WD), lambda p, g: p - LR * (g + WD * p)),
    ("sgd_momentum", SGD, dict(lr=LR, momentum=MU), lambda p, g: p - LR * g),  # b_1 = g
    ("sgd_nesterov", SGD, dict(lr=LR, momentum=MU, nesterov=True),
     lambda p, g: p - LR * (g + MU * g)),
    ("adam", Adam, dict(lr=LR), lambda p, g: p - LR * (((1 - B1) * g) / (1 - B1))
     / (np.sqrt((1 - B2) * g**2 / (1 - B2)) + EPS)),
    ("adam_l2", Adam, dict(lr=LR, weight_decay=WD), lambda p, g: p - LR * (g + WD * p)
     / (np.abs(g + WD * p) + EPS)),
    ("adamw", AdamW, dict(lr=LR, weight_decay=WD), lambda p, g: p * (1 - LR * WD) - LR * g
     / (np.abs(g) + EPS)),
]

finite = st.floats(-10, 10, allow_nan=False, width=64)


@pytest.mark.parametrize("name, cls, kwargs, reference", ONE_STEP, ids=[r[0] for r in ONE_STEP])
@given(pg=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4).flatmap(
    lambda s: st.tuples(hnp.arrays(np.float64, s, elements=finite),
                        hnp.arrays(np.float64, s, elements=finite))))
def test_one_step_matches_formula(name, cls, kwargs, reference, pg):
    p0, g = pg
    p = Tensor(p0.copy(), requires_grad=True)
    p.grad = g.copy()
    cls([p], **kwargs).step()
    np.testing.assert_allclose(p.data, reference(p0, g), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(p.grad, g)  # weight decay must not write into p.grad


# -- several steps against a plain re-statement of PyTorch's update rules ---------------------


def reference_trajectory(cls, kwargs, p, grads):
    """Run PyTorch's documented algorithm, one plain line per formula, on one array."""
    lr, wd = kwargs["lr"], kwargs.get("weight_decay", 0.0)
    mu, b1, b2, eps = kwargs.get("momentum", 0.0), 0.9, 0.98, 1e-9
    b = m = v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if cls is SGD:
            d = g + wd * p
            b = mu * b + d
            p = p - lr * ((d + mu * b) if kwargs.get("nesterov") else b if mu else d)
            continue
        if cls is AdamW:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_several_steps_match_reference(name, cls, kwargs):
    rng = np.random.default_rng(3)
    p0, grads = rng.normal(size=(3, 4)), rng.normal(size=(6, 3, 4))
    p = Tensor(p0.copy(), requires_grad=True)
    opt = cls([p], **kwargs)
    for g in grads:
        p.grad = g.copy()
        opt.step()
    np.testing.assert_allclose(p.data, reference_trajectory(cls, kwargs, p0, grads), rtol=1e-12)


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_converges_on_quadratic(name, cls, kwargs):
    a, c = quadratic()
    wd = kwargs.get("weight_decay", 0.0) if cls is not AdamW else 0.0
    kwargs = {**kwargs, "weight_decay": wd}  # AdamW's decoupled decay has no closed-form minimum
    params = make_params()
    opt = cls(params, **kwargs)
    for step in range(1, 501):
        opt.lr = cosine_lr(step, kwargs["lr"], warmup=10, total=500)
        quadratic_grads(params, a, c)
        opt.step()
    for p, a_i, c_i in zip(params, a, c, strict=True):
        # minimum of ½ a (p - c)² + ½ λ p²  is  p* = a c / (a + λ)
        np.testing.assert_allclose(p.data, a_i * c_i / (a_i + wd), atol=2e-3)


# -- PyTorch parity (float64, several steps, some parameters without a grad) ------------------


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_matches_torch(name, cls, kwargs):
    torch = pytest.importorskip("torch")
    torch_cls = {SGD: torch.optim.SGD, Adam: torch.optim.Adam, AdamW: torch.optim.AdamW}[cls]
    extra = {} if cls is SGD else dict(betas=(0.9, 0.98), eps=1e-9)
    ours = make_params()
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    opt, topt = cls(ours, **kwargs), torch_cls(theirs, **kwargs, **extra)
    a, c = quadratic()
    for step in range(8):
        quadratic_grads(ours, a, c)
        for i, (p, tp) in enumerate(zip(ours, theirs, strict=True)):
            skip = (step + i) % 3 == 0  # each parameter misses some steps
            p.grad = None if skip else p.grad
            tp.grad = None if skip else torch.tensor(p.grad)
        opt.step()
        topt.step()
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-12)


def test_clip_matches_torch():
    torch = pytest.importorskip("torch")
    grads = [np.random.default_rng(i).normal(size=s) for i, s in enumerate(SHAPES)]
    ours = make_params()
    theirs = [torch.tensor(p.data, requires_grad=True) for p in ours]
    for p, tp, g in zip(ours, theirs, grads, strict=True):
        p.grad, tp.grad = g.copy(), torch.tensor(g)
    norm = clip_grad_norm(ours, 0.5)
    torch_norm = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert norm == pytest.approx(float(torch_norm), rel=1e-12)
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


# -- state dicts -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_dict_round_trip_continues_identically(name, cls, kwargs, dtype):
    a, c = quadratic()
    params_a = make_params(dtype)
    opt_a = cls(params_a, **kwargs)
    for _ in range(3):
        quadratic_grads(params_a, a, c)
        opt_a.step()
    opt_a.lr = 0.0123  # as a schedule would have set it
    saved = safetensors.numpy.load(safetensors.numpy.save(opt_a.state_dict()))
    params_b = [Tensor(p.data.copy(), requires_grad=True) for p in params_a]
    opt_b = cls(params_b, **{**kwargs, "lr": 1.0})
    opt_b.load_state_dict(saved)
    assert opt_b.lr == 0.0123
    for _ in range(3):
        for params in (params_a, params_b):
            quadratic_grads(params, a, c)
        opt_a.step()
        opt_b.step()
    for pa, pb in zip(params_a, params_b, strict=True):
        assert pb.data.dtype == dtype
        np.testing.assert_array_equal(pa.data, pb.data)
    for key, value in opt_a.state_dict().items():
        np.testing.assert_array_equal(value, opt_b.state_dict()[key], err_msg=key)


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_float32_params_step_in_float32(name, cls, kwargs):
    grads = [np.random.default_rng(i).normal(size=s) for i, s in enumerate(SHAPES)]
    runs = []
    for grad_dtype in (np.float64, np.float32):  # a float64 grad is cast to the param's dtype
        params = make_params(np.float32)
        opt = cls(params, **kwargs)
        for _ in range(2):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.astype(grad_dtype)
            opt.step()
        assert all(p.data.dtype == np.float32 for p in params)
        assert all(v.dtype == np.float32 for k, v in opt.state_dict().items() if "." in k)
        runs.append([p.data for p in params])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_dict_names():
    params = make_params()
    assert set(Adam(params).state_dict()) == {
        "step", "lr", "betas", "eps", "weight_decay", "m.0", "m.1", "m.2", "v.0", "v.1", "v.2"}
    assert set(SGD(params, lr=0.1).state_dict()) == {
        "step", "lr", "momentum", "weight_decay", "nesterov"}
    assert "momentum_buffer.2" in SGD(params, lr=0.1, momentum=0.5).state_dict()


@pytest.mark.parametrize("load_into, state, match", [
    (lambda ps: Adam(ps), lambda ps: SGD(ps, lr=0.1).state_dict(), "missing keys"),
    (lambda ps: Adam(ps), lambda ps: Adam(ps[:2] + [Tensor(np.zeros(7))]).state_dict(),
     "'m.2' has shape"),
    (lambda ps: SGD(ps, lr=0.1), lambda ps: {**SGD(ps, lr=0.1).state_dict(), "x": np.zeros(1)},
     "unexpected keys"),
])
def test_load_state_dict_refuses_mismatch(load_into, state, match):
    params = make_params()
    with pytest.raises(ValueError, match=match):
        load_into(params).load_state_dict(state(params))


# -- bookkeeping and validation ----------------------------------------------------------------


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_params_without_grad_are_skipped(name, cls, kwargs):
    params = make_params()
    before = [p.data.copy() for p in params]
    opt = cls(params, **kwargs)
    params[0].grad = np.ones(params[0].shape)
    opt.step()
    assert not np.array_equal(params[0].data, before[0])
    for p, b in zip(params[1:], before[1:], strict=True):
        np.testing.assert_array_equal(p.data, b)
    np.testing.assert_array_equal(opt.state_dict()["step"], [1, 0, 0])
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make, error, match", [
    (lambda ps: SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda ps: SGD([ps[0], ps[0]], lr=0.1), ValueError, "appears twice"),
    (lambda ps: SGD([Tensor(np.arange(3))], lr=0.1), TypeError, "not floating"),
    (lambda ps: SGD(ps, lr=-1.0), ValueError, "lr must be >= 0"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), ValueError, "needs momentum"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), ValueError, "betas"),
    (lambda ps: AdamW(ps, eps=-1.0), ValueError, "eps and weight_decay"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make(make_params())


def test_grad_of_wrong_shape_is_refused():
    params = make_params()
    params[1].grad = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(5,\) but its grad has shape"):
        Adam(params).step()


# -- schedules and clipping ----------------------------------------------------------------------


@pytest.mark.parametrize("d_model, warmup, factor", [(512, 4000, 1.0), (128, 100, 2.0), (64, 1, 1)])
def test_noam_peaks_at_warmup(d_model, warmup, factor):
    steps = np.arange(1, 3 * warmup + 2)
    lrs = np.array([noam_lr(int(s), d_model, warmup, factor) for s in steps])
    assert steps[np.argmax(lrs)] == warmup
    assert lrs.max() == pytest.approx(factor / math.sqrt(d_model * warmup), rel=1e-12)
    assert noam_lr(2 * warmup, d_model, warmup, factor) == pytest.approx(
        factor * d_model**-0.5 * (2 * warmup) ** -0.5)


@pytest.mark.parametrize("step, warmup, total, expected", [
    (0, 10, 100, 0.0),  # warm-up starts from zero
    (5, 10, 100, 0.5),  # half way up
    (10, 10, 100, 1.0),  # peak at the end of warm-up
    (55, 10, 100, 0.55),  # half way down the cosine: (base + min) / 2
    (100, 10, 100, 0.1),  # min_lr at the end
    (1000, 10, 100, 0.1),  # and after it
    (0, 0, 100, 1.0),  # no warm-up
])
def test_cosine_lr_points(step, warmup, total, expected):
    assert cosine_lr(step, 1.0, warmup, total, min_lr=0.1) == pytest.approx(expected, abs=1e-12)


def test_cosine_lr_decreases_after_warmup():
    lrs = [cosine_lr(s, 3e-4, 20, 200) for s in range(20, 201)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


@pytest.mark.parametrize("call", [lambda: noam_lr(0, 512, 4000), lambda: cosine_lr(1, 1.0, 5, 2)])
def test_schedules_refuse_bad_steps(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("scale, max_norm", [(1.0, 0.5), (1.0, 100.0), (1e-3, 1.0), (50.0, 1.0)])
def test_clip_grad_norm(scale, max_norm):
    params = make_params()
    grads = [scale * np.random.default_rng(i).normal(size=p.shape) for i, p in enumerate(params)]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()
    params.append(Tensor(np.zeros(3), requires_grad=True))  # no grad: ignored
    norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
    assert clip_grad_norm(params, max_norm) == pytest.approx(norm, rel=1e-12)
    coef = max_norm / (norm + 1e-6) if norm > max_norm else 1.0
    for p, g in zip(params, grads, strict=False):
        np.testing.assert_allclose(p.grad, g * coef, rtol=1e-12)
    after = math.sqrt(sum(float((p.grad**2).sum()) for p in params[:-1]))
    assert after == pytest.approx(min(norm, max_norm), rel=1e-5)


def test_clip_grad_norm_leaves_nonfinite_grads_alone():
    params = make_params()
    for p in params:
        p.grad = np.ones(p.shape)
    params[0].grad[0, 0] = np.inf
    assert clip_grad_norm(params, 1.0) == np.inf
    assert params[1].grad.max() == 1.0
