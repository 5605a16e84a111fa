"""Recurrent cells (§2.1's RNN, LSTM, GRU), composed from the engine's primitive ops.

A cell maps one position's input and the previous state to the next state; a sequence needs
T calls in a row, each waiting for the last. That chain is what the Transformer removes (§3.1).
Each cell splits its work the way fast implementations do:

    xw = cell.input_projection(x)     x [B, T, C] -> [B, T, G*H]   all positions at once
    state = cell.step(xw[:, t], state)                             T sequential steps

Weights follow torch.nn.RNNCell / LSTMCell / GRUCell (names, gate order, the
U(-1/sqrt(H), 1/sqrt(H)) initialisation), so a state dict maps across unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..ops import split, stack
from ..tensor import DEFAULT_DTYPE, Tensor
from .module import Module, Parameter


def sigmoid(x: Tensor) -> Tensor:
    """sigma(x) = 1 / (1 + e^-x) = (1 + tanh(x / 2)) / 2   (the tanh form never overflows)"""
    return 0.5 * ((0.5 * x).tanh() + 1.0)


class _Cell(Module):
    """Shared bookkeeping: weight_ih [G*H, C], weight_hh [G*H, H], bias_ih, bias_hh [G*H]."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, rng=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = rng or F.default_rng()
        a, G = 1.0 / math.sqrt(hidden_size), self.gates * hidden_size

        def uniform(*shape):
            return Parameter(rng.uniform(-a, a, size=shape).astype(DEFAULT_DTYPE))

        self.weight_ih, self.weight_hh = uniform(G, input_size), uniform(G, hidden_size)
        self.bias_ih, self.bias_hh = (uniform(G), uniform(G)) if bias else (None, None)

    def input_projection(self, x: Tensor) -> Tensor:
        """x W_ih^T + b_ih for every position at once.  x [..., C] -> [..., G*H]"""
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}({self.input_size}, {self.hidden_size}): "
                             f"input of shape {x.shape} has last axis {x.shape[-1]}, "
                             f"not {self.input_size}")
        out = x.reshape(-1, self.input_size) @ self.weight_ih.T  # [N, C] @ [C, G*H]
        if self.bias_ih is not None:
            out = out + self.bias_ih
        return out.reshape(*x.shape[:-1], -1)  # [N, G*H] -> [..., G*H]

    def hidden_projection(self, h: Tensor) -> Tensor:
        """h W_hh^T + b_hh: the part that must wait for the previous step.  [B, H] -> [B, G*H]"""
        out = h @ self.weight_hh.T
        return out if self.bias_hh is None else out + self.bias_hh

    def zeros(self, B: int, dtype) -> Tensor:
        return Tensor(np.zeros((B, self.hidden_size), dtype=dtype))

    def forward(self, x: Tensor, state=None):
        """One position: x [B, C], state -> the next state (see `step`)."""
        return self.step(self.input_projection(x), state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)"""

    def step(self, xw: Tensor, h: Tensor | None = None) -> Tensor:  # [B, H], [B, H] -> [B, H]
        h = self.zeros(xw.shape[0], xw.dtype) if h is None else h
        return (xw + self.hidden_projection(h)).tanh()


class LSTMCell(_Cell):
    """i, f, o = sigma(.), g = tanh(.) of x W_ih^T + b_ih + h W_hh^T + b_hh (gates in torch's
    order i, f, g, o);  c' = f * c + i * g;  h' = o * tanh(c')"""

    gates = 4

    def step(self, xw: Tensor, state=None) -> tuple[Tensor, Tensor]:
        """xw [B, 4H], state (h, c) [B, H] each (zeros if None) -> (h', c')"""
        if state is None:
            state = (self.zeros(xw.shape[0], xw.dtype),) * 2
        h, c = state
        i, f, g, o = split(xw + self.hidden_projection(h), 4, axis=-1)  # 4 x [B, H]
        c = sigmoid(f) * c + sigmoid(i) * g.tanh()
        return sigmoid(o) * c.tanh(), c


class GRUCell(_Cell):
    """r = sigma(x W_ir + b_ir + h W_hr + b_hr),  z = sigma(x W_iz + b_iz + h W_hz + b_hz),
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h' = (1 - z) * n + z * h   (torch's r, z, n)"""

    gates = 3

    def step(self, xw: Tensor, h: Tensor | None = None) -> Tensor:  # [B, 3H], [B, H] -> [B, H]
        h = self.zeros(xw.shape[0], xw.dtype) if h is None else h
        x_r, x_z, x_n = split(xw, 3, axis=-1)  # 3 x [B, H]
        h_r, h_z, h_n = split(self.hidden_projection(h), 3, axis=-1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = (x_n + r * h_n).tanh()
        return (1.0 - z) * n + z * h


class Recurrent(Module):
    """Run a cell along a sequence: the input projection once, then T steps in order.

    x [B, T, C] -> out [B, T, H] (each step's h) and the final state. `RNN`, `LSTM`, `GRU`
    below are this with their cell, like torch.nn.RNN / LSTM / GRU (one layer, batch_first).
    """

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, rng=None):
        super().__init__()
        self.cell = self.cell_class(input_size, hidden_size, bias, rng)

    def forward(self, x: Tensor, state=None):
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__}: input must be [B, T, C], got {x.shape}")
        xw = self.cell.input_projection(x)  # [B, T, G*H]: every position at once
        outputs = []
        for t in range(x.shape[1]):  # the recurrence: step t needs step t - 1
            state = self.cell.step(xw[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return stack(outputs, axis=1), state  # T x [B, H] -> [B, T, H]


class RNN(Recurrent):
    cell_class = RNNCell


class LSTM(Recurrent):
    cell_class = LSTMCell


class GRU(Recurrent):
    cell_class = GRUCell
