"""The FLOP counter: each matrix product counted once forward, once per gradient backward; the
bench's FLOPs of the reference step come from it."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytransformer as tt
from tinytransformer import functional as F
from tinytransformer import nn
from tinytransformer.bench import step as bench_step
from tinytransformer.flops import count_flops

pytestmark = pytest.mark.usefixtures("backend")
rng = np.random.default_rng(0)


def t(*shape, grad=True):
    return tt.Tensor(rng.standard_normal(shape), requires_grad=grad)


# (name, computation returning a scalar loss, forward FLOPs, backward FLOPs)
CASES = [
    ("matmul 2-D", lambda: (t(3, 4) @ t(4, 5)).sum(), 2 * 3 * 4 * 5, 2 * 2 * 3 * 4 * 5),
    ("matmul, one operand a constant", lambda: (t(3, 4) @ t(4, 5, grad=False)).sum(),
     2 * 3 * 4 * 5, 2 * 3 * 4 * 5),
    ("matmul batched", lambda: (t(2, 3, 4) @ t(2, 4, 5)).sum(), 2 * 2 * 3 * 4 * 5,
     2 * 2 * 2 * 3 * 4 * 5),
    ("matmul vector", lambda: (t(4) @ t(4, 5)).sum(), 2 * 4 * 5, 2 * 2 * 4 * 5),
    ("ndarray @ Tensor", lambda: (rng.standard_normal((3, 4)) @ t(4, 5)).sum(), 2 * 3 * 4 * 5,
     2 * 3 * 4 * 5),
    ("Linear", lambda: nn.Linear(6, 7, rng=np.random.default_rng(0))(t(2, 3, 6)).sum(),
     2 * 6 * 6 * 7, 2 * 2 * 6 * 6 * 7),
    ("attention", lambda: F.scaled_dot_product_attention(t(2, 3, 5, 4), t(2, 3, 6, 4),
                                                         t(2, 3, 6, 4))[0].sum(),
     2 * 2 * 3 * 5 * 6 * (4 + 4), 4 * 2 * 3 * 5 * 6 * (4 + 4)),
]


@pytest.mark.parametrize("name, loss_fn, forward, backward", CASES, ids=[c[0] for c in CASES])
def test_counts(name, loss_fn, forward, backward):
    with count_flops() as flops:
        loss = loss_fn()
        assert flops.backward == 0
        loss.backward()
    assert (flops.forward, flops.backward) == (forward, backward)


def test_no_grad_counts_no_backward():
    with tt.no_grad(), count_flops() as flops:
        t(3, 4) @ t(4, 5)
    assert (flops.forward, flops.backward) == (2 * 3 * 4 * 5, 0)


@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))
def test_matmul_is_2mkn(batch, m, k, n):
    with count_flops() as flops:
        (t(batch, m, k) @ t(k, n)).sum().backward()
    assert flops.forward == 2 * batch * m * k * n
    assert flops.backward == 2 * flops.forward


def test_bench_counts_the_reference_step():
    """What `bench step` reports is the step's arithmetic, derived here by hand, layer by layer."""
    c = bench_step
    N, D = c.B * c.S, c.C // c.H  # tokens a side (source and target have the same shape here)
    attention = 2 * 2 * c.B * c.H * c.S * c.S * D  # Q K^T and P V
    ffn = 2 * 2 * N * c.C * c.F
    encoder = 2 * N * c.C * 3 * c.C + attention + 2 * N * c.C * c.C + ffn  # q k v, W^O, FFN
    cross = 2 * N * c.C * c.C + 2 * N * c.C * 2 * c.C + attention + 2 * N * c.C * c.C
    forward = c.LAYERS * (encoder + encoder + cross) + 2 * N * c.C * c.V  # + output layer
    assert c.matmul_flops() == {"forward": forward, "step": 3 * forward}


def test_bench_step_lists_every_product_of_a_step(monkeypatch):
    """bench_step.linear_shapes() (what the BLAS-only timing multiplies) are the step's F.linear."""
    seen = []
    linear = F.linear

    def recording(x, w, b=None):
        seen.append((int(np.prod(x.shape[:-1])), w.shape[1], w.shape[0]))  # (N, C_in, C_out)
        return linear(x, w, b)

    monkeypatch.setattr(F, "linear", recording)
    bench_step.ours(0.1, "numpy")()
    assert sorted(seen) == sorted(bench_step.linear_shapes())


def test_multi_head_attention_is_8btc2_plus_4bt2c():
    """Self-attention forward: projections 8 B T C^2, attention 4 B T^2 C (chapter 6's table)."""
    B, T, C = 2, 5, 8
    mha = nn.MultiHeadAttention(C, 2, rng=np.random.default_rng(0))
    x = t(B, T, C)
    with count_flops() as flops:
        mha(x, x, x)
    assert flops.forward == 8 * B * T * C * C + 4 * B * T * T * C
    assert flops.attention_forward == 4 * B * T * T * C
    assert flops.attention_scores == B * 2 * T * T  # one score (and one exp) per head and pair


def test_restores_from_op_even_after_an_error():
    before = tt.Tensor.__dict__["from_op"]
    with pytest.raises(ValueError), count_flops():
        t(3, 4) @ t(5, 6)
    assert tt.Tensor.__dict__["from_op"] is before
    with count_flops() as flops:
        pass
    t(3, 4) @ t(4, 5)  # outside the block: not counted
    assert flops.forward == 0
