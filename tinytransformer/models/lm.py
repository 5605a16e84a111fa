"""A decoder-only language model (§2.1): P(w_1, ..., w_T) = prod_t P(w_t | w_<t).

    tokens [B, T] -> embed + PE -> N causal self-attention blocks -> logits [B, T, V]

logits[:, t] scores w_{t+1} given w_1..w_t. Each block is an `nn.EncoderLayer` (self-attention
and feed-forward, no cross-attention) under a causal mask: the mask is what turns an encoder
block into a decoder one. Sequences are right-padded if at all, so real positions never see
padding under the causal mask; `pad_id` is for the loss's `ignore_index`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..nn import (
    Dropout,
    Embedding,
    Encoder,
    KVCache,
    Linear,
    Module,
    causal_mask,
    embed_tokens,
    positional_encoding,
)
from ..tensor import Tensor
from .config import ConfigMixin, token_ids


@dataclass
class LanguageModelConfig(ConfigMixin):
    """Everything needed to rebuild a `LanguageModel`; saved as JSON beside its weights."""

    vocab_size: int
    d_model: int = 128
    num_heads: int = 4
    d_ff: int = 512
    num_layers: int = 2
    dropout: float = 0.1
    max_len: int = 256
    norm_first: bool = True  # pre-LN, as GPT-2
    activation: str = "relu"  # or "gelu"
    tie_embeddings: bool = True  # output projection = the token embedding matrix
    positional: str = "learned"  # or "sinusoidal", "none"
    pad_id: int = 0
    seed: int = 0
    dtype: str = "float32"  # or "float64"


class LanguageModel(Module):
    """Decoder-only Transformer: forward(tokens [B, T]) -> logits [B, T, V] for the next token."""

    def __init__(self, config: LanguageModelConfig):
        super().__init__()
        c = self.config = config
        self.rng = np.random.default_rng(c.seed)  # initial weights, then every dropout mask
        rng = self.rng
        self.embed = Embedding(c.vocab_size, c.d_model, rng=rng)
        self.pos = positional_encoding(c.positional, c.d_model, c.max_len, rng)
        self.dropout = Dropout(c.dropout, rng=rng)
        self.blocks = Encoder(c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout,
                              c.activation, c.norm_first, rng)
        self.lm_head = None if c.tie_embeddings else Linear(c.d_model, c.vocab_size, rng=rng)
        self.to(c.dtype)

    def forward(self, tokens, cache: KVCache | None = None, need_weights: bool = False):
        """tokens [B, T] -> logits [B, T, V] (, per-layer weights [B, H, T, T_k])

        With a `cache`, `tokens` holds only the new positions: earlier positions' keys and
        values come from the cache (decoding token t costs O(t)), and the cache advances by T.
        """
        tokens = token_ids(tokens)
        offset = 0 if cache is None else cache.offset
        T = tokens.shape[1]
        x = embed_tokens(tokens, self.embed, self.pos, self.dropout, offset)  # [B, T, C]
        out = self.blocks(x, causal_mask(T, offset + T), cache, need_weights=need_weights)
        if cache is not None:
            cache.offset += T
        x, maps = out if need_weights else (out, None)
        logits = self.logits(x)
        return (logits, maps) if need_weights else logits

    def logits(self, x: Tensor) -> Tensor:
        """x [B, T, C] -> [B, T, V]: the LM head, or x E^T with tied embeddings."""
        if self.lm_head is not None:
            return self.lm_head(x)
        return F.linear(x, self.embed.weight)  # [B, T, C] @ [C, V]

    def extra_repr(self) -> str:
        return f"{self.num_parameters():,} parameters"
