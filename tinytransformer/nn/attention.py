"""Attention: masks, multi-head attention, and the cache for incremental decoding.

The mask convention, used everywhere in tinytransformer: a mask is a boolean array that is
**True where a query may attend to a key** and False where it may not. It broadcasts to the
attention scores' shape [B, H, T_q, T_k]: a causal mask is [T_q, T_k], a padding mask
[B, 1, 1, T_k], their `&` is [B, 1, T_q, T_k]. (PyTorch's boolean masks mean the opposite,
True = *not* allowed; `tinytransformer.interop` converts.)
"""

from __future__ import annotations

import functools

import numpy as np

from .. import functional as F
from ..ops import concatenate
from ..tensor import Tensor, as_array
from .layers import Linear, xavier_uniform
from .module import Module

scaled_dot_product_attention = F.scaled_dot_product_attention  # Attention(Q, K, V), §4.1


@functools.lru_cache(maxsize=64)
def causal_mask(T: int, T_k: int | None = None) -> np.ndarray:
    """mask[i, j] = j <= i: position i sees itself and the past.  -> bool [T, T]

    With `T_k` > T (T new queries after T_k - T cached positions) the last query sees all
    T_k keys: mask[i, j] = j <= i + T_k - T, bool [T, T_k]. The array is cached, read-only.
    """
    T_k = T if T_k is None else T_k
    mask = np.tri(T, T_k, k=T_k - T, dtype=bool)
    mask.setflags(write=False)
    return mask


def padding_mask(tokens, pad_id: int) -> np.ndarray:
    """mask[b, 0, 0, j] = tokens[b, j] != pad_id: keys that are real tokens.

    tokens [B, T_k] ints -> bool [B, 1, 1, T_k]
    """
    tokens = as_array(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"padding_mask: tokens must be [B, T], got shape {tokens.shape}")
    return (tokens != pad_id)[:, None, None, :]


class KVCache:
    """Keys and values of the positions decoded so far, for incremental decoding.

    One entry per attention module (keyed by the module): self-attention appends the new
    position's k, v [B, H, 1, D] to its entry, so decoding token t attends to t cached keys
    (O(t) work, not O(t^2)); cross-attention computes the memory's k, v once and reuses them.
    `offset` is how many positions the decoder has consumed (the models advance it), which
    the positional encoding needs.
    """

    def __init__(self):
        self.entries: dict[Module, tuple[Tensor, Tensor]] = {}
        self.offset = 0

    def __len__(self) -> int:
        return self.offset

    def reorder(self, index) -> None:
        """Keep batch rows `index` (ints [B']) of every entry, e.g. the surviving beams."""
        index = np.asarray(index)
        self.entries = {m: (Tensor(k.data[index]), Tensor(v.data[index]))  # [B', H, T_k, D]
                        for m, (k, v) in self.entries.items()}

    def __repr__(self) -> str:
        return f"KVCache(offset={self.offset}, entries={len(self.entries)})"


class MultiHeadAttention(Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,  head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

    The h matrices W_i^Q [C, D] (D = C / h) sit side by side as one [C, C] map, and W^Q, W^K,
    W^V are stacked into `in_proj.weight` [3C, C], as in torch.nn.MultiheadAttention's
    `in_proj_weight`; `out_proj` is W^O. Self-attention therefore projects with one matmul,
    [B*T, C] @ [C, 3C], and cuts the result into q, k, v and heads by reshaping and indexing;
    cross-attention with two, [C, C] for the queries and [C, 2C] for keys and values.
    """  # noqa: E501  (the formula, whole, on the docstring's first line)

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 rng=None):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"MultiHeadAttention: d_model={d_model} is not divisible by "
                             f"num_heads={num_heads} (each head gets d_model / num_heads dims)")
        self.d_model, self.num_heads, self.head_dim = d_model, num_heads, d_model // num_heads
        self.dropout, self.rng = dropout, rng  # rng: attention dropout's generator (None: F's)
        init = rng or F.default_rng()
        self.in_proj = Linear(d_model, 3 * d_model, bias=bias, rng=init)
        # Glorot for each of W^Q, W^K, W^V on its own ([C, C], not [3C, C])
        self.in_proj.weight.data[...] = np.concatenate(
            [xavier_uniform((d_model, d_model), init) for _ in range(3)])
        self.out_proj = Linear(d_model, d_model, bias=bias, rng=init)

    def _heads(self, x: Tensor, first: int, n: int = 1) -> Tensor:
        """x [W_first .. W_first+n-1] + b, split into heads: n of Q, K, V (0, 1, 2) at once.

        [B, T, C] -> [n, B, H, T, D]"""
        B, T, C = x.shape
        rows, b = slice(first * C, (first + n) * C), self.in_proj.bias  # W_i: rows iC .. (i+1)C
        x = F.linear(x, self.in_proj.weight[rows], None if b is None else b[rows])
        x = x.reshape(B, T, n, self.num_heads, self.head_dim)  # [B, T, nC] -> [B, T, n, H, D]
        return x.permute(2, 0, 3, 1, 4)  # [B, T, n, H, D] -> [n, B, H, T, D]

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        """q [B, H, T_q, D], k, v [B, H, T_k, D]: one product for each distinct input."""
        if query is key and key is value:  # self-attention: q, k, v from one [C, 3C] product
            return tuple(self._heads(query, 0, 3))
        if key is value:  # cross-attention: k, v from one [C, 2C] product
            return (self._heads(query, 0)[0], *self._heads(key, 1, 2))
        return self._heads(query, 0)[0], self._heads(key, 1)[0], self._heads(value, 2)[0]

    def _cached(self, query: Tensor, key: Tensor, value: Tensor, cache: KVCache):
        """Project with the cache: append the new k, v (self-attention) or reuse them (cross)."""
        if key is query:  # self-attention: the past positions' keys, then the new ones
            q, k, v = self._project(query, key, value)
            if self in cache.entries:
                past_k, past_v = cache.entries[self]
                k, v = concatenate([past_k, k], axis=2), concatenate([past_v, v], axis=2)
        elif self in cache.entries:  # cross-attention: the memory's k, v were computed once
            q, (k, v) = self._heads(query, 0)[0], cache.entries[self]
        else:
            q, k, v = self._project(query, key, value)
        cache.entries[self] = (k, v)  # [B, H, T_k, D] each
        return q, k, v

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                attn_mask=None, need_weights: bool = False, cache: KVCache | None = None):
        """query [B, T_q, C], key and value [B, T_k, C] -> out [B, T_q, C] (, [B, H, T_q, T_k])

        `key_padding_mask` bool [B, T_k] and `attn_mask` bool broadcasting to [B, H, T_q, T_k]
        are True where attention is allowed. Pass the same Tensor as query, key and value for
        self-attention (with a `cache`, its new keys and values are appended).
        """
        B, T_q, C = query.shape
        if C != self.d_model:
            raise ValueError(f"MultiHeadAttention(d_model={self.d_model}): query has shape "
                             f"{query.shape}, expected [B, T_q, {self.d_model}]")
        if cache is None:
            q, k, v = self._project(query, key, value)
        else:
            q, k, v = self._cached(query, key, value, cache)
        mask = _combine(attn_mask, key_padding_mask)
        out, weights = F.scaled_dot_product_attention(q, k, v, mask, self.dropout,
                                                      self.training, self.rng)
        out = out.permute(0, 2, 1, 3).reshape(B, T_q, C)  # [B, H, T_q, D] -> [B, T_q, H*D]
        out = self.out_proj(out)
        return (out, weights) if need_weights else out

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, num_heads={self.num_heads}, dropout={self.dropout}"


def _combine(attn_mask, key_padding_mask):
    """One boolean mask from an attention mask and a key padding mask [B, T_k] (each optional)"""
    if key_padding_mask is None:
        return attn_mask
    kpm = np.asarray(key_padding_mask.data if isinstance(key_padding_mask, Tensor)
                     else key_padding_mask)
    if kpm.ndim == 2:
        kpm = kpm[:, None, None, :]  # [B, T_k] -> [B, 1, 1, T_k]
    if attn_mask is None:
        return kpm
    return np.asarray(attn_mask) & kpm
