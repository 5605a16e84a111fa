"""The encoder-decoder Transformer (Vaswani et al., 2017) that translates (§3.1, §6.1).

    src [B, S] -> embed + PE -> Encoder -> memory [B, S, C]
    tgt_in [B, T] -> embed + PE -> Decoder(memory) -> logits [B, T, V_tgt]

Masks come from `pad_id`: the source padding mask serves the encoder's self-attention and
the decoder's cross-attention; the decoder's self-attention gets causal & target padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..nn import (
    Decoder,
    Dropout,
    Embedding,
    Encoder,
    KVCache,
    Linear,
    Module,
    causal_mask,
    embed_tokens,
    padding_mask,
    positional_encoding,
)
from ..tensor import Tensor
from .config import ConfigMixin, token_ids


@dataclass
class TransformerConfig(ConfigMixin):
    """Everything needed to rebuild a `Transformer`; saved as JSON beside its weights."""

    src_vocab: int
    tgt_vocab: int
    d_model: int = 128
    num_heads: int = 4
    d_ff: int = 512
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.1
    max_len: int = 256
    norm_first: bool = False  # False: post-LN as in the paper; True: pre-LN
    activation: str = "relu"  # or "gelu"
    tie_embeddings: bool = False  # output projection = target embedding matrix
    positional: str = "sinusoidal"  # or "learned", "none"
    pad_id: int = 0
    seed: int = 0
    dtype: str = "float32"  # or "float64"


class Transformer(Module):
    """The encoder-decoder Transformer: forward(src [B, S], tgt_in [B, T]) -> logits [B, T, V]."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = config
        self.rng = np.random.default_rng(c.seed)  # initial weights, then every dropout mask
        rng = self.rng
        self.src_embed = Embedding(c.src_vocab, c.d_model, rng=rng)
        self.tgt_embed = Embedding(c.tgt_vocab, c.d_model, rng=rng)
        self.src_pos = positional_encoding(c.positional, c.d_model, c.max_len, rng)
        self.tgt_pos = positional_encoding(c.positional, c.d_model, c.max_len, rng)
        self.dropout = Dropout(c.dropout, rng=rng)
        stack = (c.d_model, c.num_heads, c.d_ff, c.dropout, c.activation, c.norm_first, rng)
        self.encoder = Encoder(c.num_encoder_layers, *stack)
        self.decoder = Decoder(c.num_decoder_layers, *stack)
        self.generator = None if c.tie_embeddings else Linear(c.d_model, c.tgt_vocab, rng=rng)
        self.to(c.dtype)

    # -- masks (boolean, True = may attend) ------------------------------------------------------
    def src_mask(self, src) -> np.ndarray:
        """Real source tokens.  src [B, S] -> bool [B, 1, 1, S]"""
        return padding_mask(src, self.config.pad_id)

    def tgt_mask(self, tgt_in) -> np.ndarray:
        """Past-or-present real target tokens.  tgt_in [B, T] -> bool [B, 1, T, T]"""
        T = np.shape(tgt_in)[1]
        return causal_mask(T) & padding_mask(tgt_in, self.config.pad_id)

    # -- the two halves -------------------------------------------------------------------------
    def encode(self, src, src_mask=None, need_weights: bool = False):
        """src [B, S] ints -> memory [B, S, C] (, per-layer self-attention weights [B, H, S, S])"""
        src = token_ids(src)
        src_mask = self.src_mask(src) if src_mask is None else src_mask
        x = embed_tokens(src, self.src_embed, self.src_pos, self.dropout)
        return self.encoder(x, src_mask, need_weights=need_weights)

    def decode(self, tgt_in, memory: Tensor, src_mask, cache: KVCache | None = None,
               need_weights: bool = False):
        """tgt_in [B, T], memory [B, S, C] -> logits [B, T, V] (, {"self": ..., "cross": ...})

        With a `cache`, `tgt_in` holds only the new positions (usually one): earlier positions'
        keys and values come from the cache, and the cache advances by T.
        """
        tgt_in = token_ids(tgt_in)
        offset = 0 if cache is None else cache.offset
        T = tgt_in.shape[1]
        # with a cache the new tokens see every cached position; a decoded prefix has no padding
        self_mask = self.tgt_mask(tgt_in) if cache is None else causal_mask(T, offset + T)
        x = embed_tokens(tgt_in, self.tgt_embed, self.tgt_pos, self.dropout, offset)
        out = self.decoder(x, memory, self_mask, src_mask, cache, need_weights=need_weights)
        if cache is not None:
            cache.offset += T
        x, maps = out if need_weights else (out, None)
        logits = self.logits(x)
        return (logits, maps) if need_weights else logits

    def logits(self, x: Tensor) -> Tensor:
        """x [B, T, C] -> [B, T, V]: the generator, or x E^T with tied embeddings."""
        if self.generator is not None:
            return self.generator(x)
        return F.linear(x, self.tgt_embed.weight)  # [B, T, C] @ [C, V]

    def forward(self, src, tgt_in, need_weights: bool = False):
        """src [B, S], tgt_in [B, T] -> logits [B, T, V_tgt]

        With `need_weights`, also every attention map, per layer, each [B, H, T_q, T_k]:
        {"encoder_self": [...], "decoder_self": [...], "cross": [...]}.
        """
        src_mask = self.src_mask(token_ids(src))
        if not need_weights:
            return self.decode(tgt_in, self.encode(src, src_mask), src_mask)
        memory, enc_maps = self.encode(src, src_mask, need_weights=True)
        logits, dec_maps = self.decode(tgt_in, memory, src_mask, need_weights=True)
        return logits, {"encoder_self": enc_maps, "decoder_self": dec_maps["self"],
                        "cross": dec_maps["cross"]}

    def extra_repr(self) -> str:
        return f"{self.num_parameters():,} parameters"
