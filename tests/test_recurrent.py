"""nn.recurrent: RNN, LSTM and GRU cells against NumPy formulas and torch, float64 gradient
checks, and the sequence runner. Every test runs once per kernel backend."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer import Tensor
from tinytransformer.gradcheck import gradcheck
from tinytransformer.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, sigmoid
from tinytransformer.ops import concatenate

pytestmark = pytest.mark.usefixtures("backend")

RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float64):
    return Tensor(RNG.standard_normal(shape).astype(dtype))


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def rnn_np(cell, x, h):
    return np.tanh(x @ cell.weight_ih.data.T + cell.bias_ih.data + h @ cell.weight_hh.data.T
                   + cell.bias_hh.data)


def lstm_np(cell, x, state):
    h, c = state
    gates = x @ cell.weight_ih.data.T + cell.bias_ih.data + h @ cell.weight_hh.data.T \
        + cell.bias_hh.data
    i, f, g, o = np.split(gates, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c), c


def gru_np(cell, x, h):
    xr, xz, xn = np.split(x @ cell.weight_ih.data.T + cell.bias_ih.data, 3, axis=-1)
    hr, hz, hn = np.split(h @ cell.weight_hh.data.T + cell.bias_hh.data, 3, axis=-1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


# (name, cell class, NumPy reference, state is (h, c))
CELLS = [
    ("rnn", RNNCell, rnn_np, False),
    ("lstm", LSTMCell, lstm_np, True),
    ("gru", GRUCell, gru_np, False),
]
IDS = [c[0] for c in CELLS]


def state_of(lstm: bool, B: int, H: int):
    return (randn(B, H), randn(B, H)) if lstm else randn(B, H)


def data(state):
    return tuple(s.data for s in state) if isinstance(state, tuple) else state.data


@pytest.mark.parametrize("name, make, reference, lstm", CELLS, ids=IDS)
@given(B=st.integers(1, 3), C=st.integers(1, 4), H=st.integers(1, 4))
def test_cell_matches_its_formula(name, make, reference, lstm, B, C, H):
    cell = make(C, H, rng=np.random.default_rng(1)).double()
    x, state = randn(B, C), state_of(lstm, B, H)
    out, expected = data(cell(x, state)), reference(cell, x.data, data(state))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, make, reference, lstm", CELLS, ids=IDS)
def test_cell_gradients_float64(name, make, reference, lstm):
    cell = make(3, 4, rng=np.random.default_rng(2)).double()
    x, state = randn(2, 3), state_of(lstm, 2, 4)
    if lstm:
        report = gradcheck(lambda x, h, c, *p: concatenate(cell(x, (h, c)), axis=-1),
                           x, *state, *cell.parameters())
    else:
        report = gradcheck(lambda x, h, *p: cell(x, h), x, state, *cell.parameters())
    assert report.passed, report


@pytest.mark.parametrize("name, make, reference, lstm", CELLS, ids=IDS)
def test_zero_state_is_the_default(name, make, reference, lstm):
    cell = make(3, 2, rng=np.random.default_rng(3)).double()
    x = randn(4, 3)
    zero = (Tensor(np.zeros((4, 2))),) * 2 if lstm else Tensor(np.zeros((4, 2)))
    np.testing.assert_array_equal(data(cell(x)), data(cell(x, zero)))


SEQUENCES = [("rnn", RNN), ("lstm", LSTM), ("gru", GRU)]


@pytest.mark.parametrize("name, make", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequence_is_the_cell_step_by_step(name, make):
    layer = make(3, 4, rng=np.random.default_rng(4)).double()
    x = randn(2, 5, 3)
    out, final = layer(x)
    assert out.shape == (2, 5, 4)
    state = None
    for t in range(5):
        state = layer.cell(Tensor(x.data[:, t]), state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(out.data[:, t], h.data, rtol=1e-12)
    np.testing.assert_array_equal(data(final), data(state))


@pytest.mark.parametrize("name, make", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequence_gradients_float64(name, make):
    layer = make(2, 3, rng=np.random.default_rng(5)).double()
    report = gradcheck(lambda x, *p: layer(x)[0], randn(2, 4, 2), *layer.parameters())
    assert report.passed, report


def test_sigmoid_is_stable_and_right():
    x = np.array([-800.0, -3.0, 0.0, 2.0, 800.0])
    np.testing.assert_allclose(sigmoid(Tensor(x)).data, sig(np.clip(x, -50, 50)), atol=1e-15)


def test_wrong_width_names_the_cell_and_the_shape():
    with pytest.raises(ValueError, match=r"LSTMCell\(3, 4\).*\(2, 5\)"):
        LSTMCell(3, 4)(randn(2, 5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"GRU: input must be \[B, T, C\]"):
        GRU(3, 4)(randn(2, 3, dtype=np.float32))


TORCH = [("rnn", RNNCell, "RNNCell"), ("lstm", LSTMCell, "LSTMCell"), ("gru", GRUCell, "GRUCell")]


@pytest.mark.parametrize("name, make, torch_name", TORCH, ids=[t[0] for t in TORCH])
def test_cells_agree_with_torch(name, make, torch_name):
    torch = pytest.importorskip("torch")
    ours = make(3, 4, rng=np.random.default_rng(6)).double()
    theirs = getattr(torch.nn, torch_name)(3, 4).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = randn(2, 3)
    expected = theirs(torch.from_numpy(x.data))
    expected = tuple(e.detach().numpy() for e in expected) if isinstance(expected, tuple) \
        else expected.detach().numpy()
    np.testing.assert_allclose(data(ours(x)), expected, rtol=1e-12, atol=1e-12)
