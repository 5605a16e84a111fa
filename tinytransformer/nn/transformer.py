"""The Transformer's pieces: positional encodings, encoder and decoder layers, and their stacks.

Layers follow torch.nn.TransformerEncoderLayer / TransformerDecoderLayer exactly (names,
dropout placements, post-LN by default, `norm_first=True` for pre-LN), so that a state dict
maps across by renaming (`tinytransformer.interop`). Masks are boolean, True = may attend
(see `nn.attention`).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor, as_array
from .attention import KVCache, MultiHeadAttention
from .layers import Dropout, LayerNorm, Linear, normal
from .module import Module, ModuleList, Parameter

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _check_positions(name: str, T: int, offset: int, max_len: int) -> None:
    if offset + T > max_len:
        raise ValueError(f"{name}: positions {offset}..{offset + T - 1} exceed max_len={max_len} "
                         "(raise max_len in the config)")


class SinusoidalPositionalEncoding(Module):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),  PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))

    Added to the (scaled) token embeddings; no parameters. The table [max_len, d_model] is
    kept in float64 and cast to the input's dtype.
    """

    def __init__(self, d_model: int, max_len: int = 256):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        pos = np.arange(max_len)[:, None]  # [max_len, 1]
        angle = pos / 10000.0 ** (np.arange(0, d_model, 2) / d_model)  # [max_len, ceil(C/2)]
        self.pe = np.zeros((max_len, d_model))  # [max_len, C]
        self.pe[:, 0::2] = np.sin(angle)
        self.pe[:, 1::2] = np.cos(angle[:, : d_model // 2])

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:  # [B, T, C] -> [B, T, C]
        _check_positions("SinusoidalPositionalEncoding", x.shape[1], offset, self.max_len)
        return x + Tensor(self.pe[offset:offset + x.shape[1]].astype(x.dtype))  # + [T, C]

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEncoding(Module):
    """x + P[pos],  P [max_len, d_model] learned, P ~ N(0, 1/2) (the sinusoids' mean square)."""

    def __init__(self, d_model: int, max_len: int = 256, rng=None):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.weight = Parameter(normal((max_len, d_model), 0.5**0.5, rng or F.default_rng()))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:  # [B, T, C] -> [B, T, C]
        _check_positions("LearnedPositionalEncoding", x.shape[1], offset, self.max_len)
        return x + self.weight[offset:offset + x.shape[1]]  # + [T, C]

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


def positional_encoding(kind: str, d_model: int, max_len: int, rng=None) -> Module | None:
    """"sinusoidal", "learned", or "none" (None: no position information at all)."""
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(d_model, max_len)
    if kind == "learned":
        return LearnedPositionalEncoding(d_model, max_len, rng)
    if kind == "none":
        return None
    raise ValueError(f"positional must be 'sinusoidal', 'learned' or 'none', got {kind!r}")


def embed_tokens(ids, embedding: Module, pos: Module | None, dropout: Module,
                 offset: int = 0) -> Tensor:
    """x = Dropout(E[ids] * sqrt(d_model) + PE[offset:offset + T]).  ids [B, T] -> [B, T, C]

    The sqrt(d_model) scale is the paper's (§3.4): embeddings ~ N(0, 1/d_model) become unit
    variance, the same scale as the positional encoding.
    """
    ids = as_array(ids)
    if ids.ndim != 2:
        raise ValueError(f"token ids must be [B, T], got shape {ids.shape}")
    x = embedding(ids) * float(np.sqrt(embedding.embedding_dim))  # [B, T, C]
    if pos is not None:
        x = pos(x, offset)
    return dropout(x)


class _Sublayers(Module):
    """What both layers share, as torch's layers name it: `_sa_block` (self-attention, then
    dropout1) and `_ff_block`, FFN(x) = out_dropout(linear2(dropout(act(linear1(x)))))."""

    def _init_ff(self, d_model: int, d_ff: int, dropout: float, activation: str, rng) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.linear1 = Linear(d_model, d_ff, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(d_ff, d_model, rng=rng)

    def _ff_block(self, x: Tensor, out_dropout: Dropout) -> Tensor:  # [B, T, C] -> [B, T, C]
        h = self.dropout(ACTIVATIONS[self.activation](self.linear1(x)))  # [B, T, d_ff]
        return out_dropout(self.linear2(h))

    def _sa_block(self, x: Tensor, mask, cache):  # [B, T, C] -> [B, T, C], [B, H, T, T_k]
        out, weights = self.self_attn(x, x, x, attn_mask=mask, need_weights=True, cache=cache)
        return self.dropout1(out), weights


class EncoderLayer(_Sublayers):
    """x + Dropout(SelfAttention(x)), then x + Dropout(FFN(x)); LayerNorm after each (post-LN)
    or before each sub-layer's input (`norm_first=True`, pre-LN).

    Under a causal mask and with a `cache`, it is also a decoder-only (GPT-style) block.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, rng=None):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout, rng=rng)
        self._init_ff(d_model, d_ff, dropout, activation, rng)
        self.norm1, self.norm2 = LayerNorm(d_model), LayerNorm(d_model)
        self.dropout1, self.dropout2 = Dropout(dropout, rng=rng), Dropout(dropout, rng=rng)

    def forward(self, x: Tensor, mask=None, cache: KVCache | None = None,
                need_weights: bool = False):
        """x [B, T, C], mask bool broadcasting to [B, H, T, T_k] -> [B, T, C] (, weights)"""
        if self.norm_first:
            a, weights = self._sa_block(self.norm1(x), mask, cache)
            x = x + a
            x = x + self._ff_block(self.norm2(x), self.dropout2)
        else:
            a, weights = self._sa_block(x, mask, cache)
            x = self.norm1(x + a)
            x = self.norm2(x + self._ff_block(x, self.dropout2))
        return (x, weights) if need_weights else x

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}, activation={self.activation!r}"


class DecoderLayer(_Sublayers):
    """Masked self-attention, cross-attention over the encoder's memory, then the FFN; each
    a residual sub-layer with dropout and LayerNorm (post-LN, or pre-LN with `norm_first`)."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, rng=None):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout, rng=rng)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout, rng=rng)
        self._init_ff(d_model, d_ff, dropout, activation, rng)
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (Dropout(dropout, rng=rng) for _ in range(3))

    def forward(self, x: Tensor, memory: Tensor, self_mask=None, memory_mask=None,
                cache: KVCache | None = None, need_weights: bool = False):
        """x [B, T, C], memory [B, S, C] -> [B, T, C] (, (self weights [B, H, T, T_k],
        cross weights [B, H, T, S]))"""
        if self.norm_first:
            a, w_self = self._sa_block(self.norm1(x), self_mask, cache)
            x = x + a
            a, w_cross = self._ca_block(self.norm2(x), memory, memory_mask, cache)
            x = x + a
            x = x + self._ff_block(self.norm3(x), self.dropout3)
        else:
            a, w_self = self._sa_block(x, self_mask, cache)
            x = self.norm1(x + a)
            a, w_cross = self._ca_block(x, memory, memory_mask, cache)
            x = self.norm2(x + a)
            x = self.norm3(x + self._ff_block(x, self.dropout3))
        return (x, (w_self, w_cross)) if need_weights else x

    def _ca_block(self, x: Tensor, memory: Tensor, mask, cache):  # -> [B, T, C], [B, H, T, S]
        out, weights = self.cross_attn(x, memory, memory, attn_mask=mask, need_weights=True,
                                       cache=cache)
        return self.dropout2(out), weights

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}, activation={self.activation!r}"


class _Stack(Module):
    """N layers of one kind (`layer_type`), then a final LayerNorm when they are pre-LN (as
    torch's stacks)."""

    layer_type: type

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int,
                 dropout: float = 0.1, activation: str = "relu", norm_first: bool = False,
                 rng=None):
        super().__init__()
        self.layers = ModuleList(self.layer_type(d_model, num_heads, d_ff, dropout, activation,
                                                 norm_first, rng) for _ in range(num_layers))
        self.norm = LayerNorm(d_model) if norm_first else None


class Encoder(_Stack):
    """N encoder layers, then a final LayerNorm when the layers are pre-LN."""

    layer_type = EncoderLayer

    def forward(self, x: Tensor, mask=None, cache: KVCache | None = None,
                need_weights: bool = False):
        """x [B, T, C] -> [B, T, C] (, a list of per-layer weights [B, H, T, T_k])"""
        maps = []
        for layer in self.layers:
            x, weights = layer(x, mask, cache, need_weights=True)
            maps.append(weights)
        if self.norm is not None:
            x = self.norm(x)
        return (x, maps) if need_weights else x


class Decoder(_Stack):
    """N decoder layers, then a final LayerNorm when the layers are pre-LN."""

    layer_type = DecoderLayer

    def forward(self, x: Tensor, memory: Tensor, self_mask=None, memory_mask=None,
                cache: KVCache | None = None, need_weights: bool = False):
        """x [B, T, C], memory [B, S, C] -> [B, T, C] (, {"self": [...], "cross": [...]})"""
        maps = {"self": [], "cross": []}
        for layer in self.layers:
            x, (w_self, w_cross) = layer(x, memory, self_mask, memory_mask, cache,
                                         need_weights=True)
            maps["self"].append(w_self)
            maps["cross"].append(w_cross)
        if self.norm is not None:
            x = self.norm(x)
        return (x, maps) if need_weights else x
