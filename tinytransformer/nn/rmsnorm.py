"""RMSNorm (Zhang & Sennrich, 2019), LLaMA's normalisation: layer norm without the mean.

    RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g

Layer norm centres x and rescales it; RMSNorm only rescales, by the root mean square, and has
no bias. One reduction fewer, and in practice the models train as well. Counterparts:
`torch.nn.RMSNorm`, transformers' `LlamaRMSNorm` (which computes in float32 whatever the
input's dtype; here float64 stays float64).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import DEFAULT_DTYPE, Tensor
from .module import Module, Parameter


class RMSNorm(Module):
    """RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight, over the last axis; weight starts at 1."""

    def __init__(self, normalized_shape: int, eps: float = 1e-6):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = Parameter(np.ones(normalized_shape, DEFAULT_DTYPE))

    def forward(self, x: Tensor) -> Tensor:  # [..., C] -> [..., C]
        return F.rms_norm(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"({self.normalized_shape},), eps={self.eps}"
