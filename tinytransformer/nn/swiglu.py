"""SwiGLU, LLaMA's feed-forward (Shazeer, 2020, "GLU Variants Improve Transformer"):

    FFN_SwiGLU(x) = W_down (SiLU(W_gate x) * (W_up x)),   SiLU(z) = z * sigmoid(z)

The 2017 feed-forward is W_2 ReLU(W_1 x). A gated linear unit adds a second projection W_up x
that the activation of the first one multiplies elementwise: the network learns, per hidden
unit, how much of W_up x to let through. No biases. Counterpart: transformers' `LlamaMLP`,
with the same parameter names (gate_proj, up_proj, down_proj).
"""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from .layers import Linear
from .module import Module


class SwiGLU(Module):
    """down_proj(silu(gate_proj(x)) * up_proj(x)):  [..., C] -> [..., d_ff] -> [..., C]"""

    def __init__(self, d_model: int, d_ff: int, rng=None):
        super().__init__()
        self.d_model, self.d_ff = d_model, d_ff
        self.gate_proj = Linear(d_model, d_ff, bias=False, rng=rng)  # W_gate [d_ff, C]
        self.up_proj = Linear(d_model, d_ff, bias=False, rng=rng)  # W_up [d_ff, C]
        self.down_proj = Linear(d_ff, d_model, bias=False, rng=rng)  # W_down [C, d_ff]

    def forward(self, x: Tensor) -> Tensor:  # [B, T, C] -> [B, T, C]
        h = F.silu(self.gate_proj(x)) * self.up_proj(x)  # [B, T, d_ff]
        return self.down_proj(h)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_ff={self.d_ff}"
