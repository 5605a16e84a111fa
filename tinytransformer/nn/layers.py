"""The basic layers: Linear, Embedding, LayerNorm, Dropout, and their initialisations.

Every layer that draws random numbers takes a NumPy `rng` (a `np.random.Generator`); the
models pass one generator, seeded from their config, to every layer, so a seed fixes the
initial weights and the dropout masks. Without one, layers use `F.default_rng()`
(`F.manual_seed` seeds it). Parameters are created in float32; `module.to(np.float64)`
converts them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor import DEFAULT_DTYPE, Tensor
from .module import Module, Parameter


def xavier_uniform(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """W ~ U(-a, a),  a = sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio, 2010); shape [out, in]"""
    fan_out, fan_in = shape
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(DEFAULT_DTYPE)


def normal(shape: tuple, std: float, rng: np.random.Generator) -> np.ndarray:
    """W ~ N(0, std^2)"""
    return (std * rng.standard_normal(shape)).astype(DEFAULT_DTYPE)


class Linear(Module):
    """y = x W^T + b,  W [out_features, in_features] (torch's layout), b [out_features].

    Weights are Xavier-uniform, the bias zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = rng or F.default_rng()
        self.weight = Parameter(xavier_uniform((out_features, in_features), rng))
        self.bias = Parameter(np.zeros(out_features, DEFAULT_DTYPE)) if bias else None

    def forward(self, x: Tensor) -> Tensor:  # [..., C_in] -> [..., C_out]
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """out[...] = W[ids[...]],  W [num_embeddings, embedding_dim] ~ N(0, std^2).

    `std` defaults to embedding_dim^-0.5, so that the embeddings, once scaled by
    sqrt(d_model) as in the Transformer paper, have unit variance.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, std: float | None = None, rng=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        std = embedding_dim**-0.5 if std is None else std
        rng = rng or F.default_rng()
        self.weight = Parameter(normal((num_embeddings, embedding_dim), std, rng))

    def forward(self, ids) -> Tensor:  # [...] ints -> [..., C]
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """LayerNorm(x) = (x - mean) / sqrt(var + eps) * weight + bias, over the last axis.

    weight starts at ones, bias at zeros.
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = Parameter(np.ones(normalized_shape, DEFAULT_DTYPE))
        self.bias = Parameter(np.zeros(normalized_shape, DEFAULT_DTYPE))

    def forward(self, x: Tensor) -> Tensor:  # [..., C] -> [..., C]
        return F.layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"({self.normalized_shape},), eps={self.eps}"


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1 / (1 - p); identity in eval."""

    def __init__(self, p: float = 0.1, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p, self.rng = p, rng

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
