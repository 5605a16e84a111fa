"""The translators before the Transformer, as baselines for §6.1's claim: a GRU encoder-decoder
without attention (Cho et al., 2014) and one with additive attention (Bahdanau et al., 2015).

    encoder   h_j = GRU(E_src x_j, h_{j-1})                        memory H [B, S, C]
              c   = h_|x|  (the state after the last real token)   [B, C]
    decoder   s_0 = tanh(W_s c)
              without attention:  c_t = c   (the whole sentence, squeezed into one vector)
              with attention:     e_tj = v^T tanh(W_a s_{t-1} + U_a h_j),  a_t = softmax_j(e_t)
                                  c_t = sum_j a_tj h_j
              s_t = GRU([E_tgt y_{t-1}; c_t], s_{t-1})
              logits_t = W_o [s_t; c_t] + b_o

They have the Transformer's interface (forward, src_mask, encode, decode with a KVCache, the
"cross" attention maps), so the trainer, greedy and beam search, checkpoints and the commands
use them unchanged. The encoder is one unidirectional GRU layer (Bahdanau's is bidirectional):
both baselines share it, so the only difference between them is attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..nn import Dropout, Embedding, KVCache, Linear, Module
from ..nn.recurrent import GRU, GRUCell
from ..ops import concatenate, stack
from ..tensor import Tensor
from .config import DTYPES, ConfigMixin, token_ids


@dataclass
class RNNConfig(ConfigMixin):
    """Everything needed to rebuild an `RNNTranslator`; saved as JSON beside its weights."""

    src_vocab: int
    tgt_vocab: int
    d_model: int = 128  # embedding and hidden size
    attention: bool = False  # additive (Bahdanau) attention over the encoder's states
    dropout: float = 0.1
    max_len: int = 256  # the longest source the commands feed it (a recurrence has no limit)
    pad_id: int = 0
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"RNNConfig: dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"RNNConfig: dropout must be in [0, 1), got {self.dropout}")


class RNNTranslator(Module):
    """forward(src [B, S], tgt_in [B, T]) -> logits [B, T, V], like `Transformer`."""

    def __init__(self, config: RNNConfig):
        super().__init__()
        c = self.config = config
        self.rng = rng = np.random.default_rng(c.seed)  # initial weights, then dropout masks
        C = c.d_model
        self.src_embed = Embedding(c.src_vocab, C, rng=rng)
        self.tgt_embed = Embedding(c.tgt_vocab, C, rng=rng)
        self.encoder = GRU(C, C, rng=rng)
        self.bridge = Linear(C, C, rng=rng)  # W_s
        self.decoder = GRUCell(2 * C, C, rng=rng)  # input [E y_{t-1}; c_t]
        if c.attention:
            self.attn_query = Linear(C, C, bias=False, rng=rng)  # W_a
            self.attn_key = Linear(C, C, rng=rng)  # U_a (and a bias)
            self.attn_score = Linear(C, 1, bias=False, rng=rng)  # v
        self.generator = Linear(2 * C, c.tgt_vocab, rng=rng)  # W_o, b_o
        self.dropout = Dropout(c.dropout, rng=rng)
        self.to(c.dtype)

    def src_mask(self, src) -> np.ndarray:
        """Real source tokens.  src [B, S] -> bool [B, S]"""
        return token_ids(src) != self.config.pad_id

    def encode(self, src, src_mask=None, need_weights: bool = False):
        """src [B, S] -> memory (H [B, S, C], c [B, C], U_a H [B, S, C] or None)"""
        src = token_ids(src)
        mask = self.src_mask(src) if src_mask is None else src_mask
        H, _ = self.encoder(self.dropout(self.src_embed(src)))  # [B, S, C]
        last = np.maximum(mask.sum(1) - 1, 0)  # each row's last real position
        c = H[np.arange(len(src)), last]  # [B, C]
        keys = self.attn_key(H) if self.config.attention else None
        memory = (H, c, keys)
        return (memory, []) if need_weights else memory

    def _attend(self, s: Tensor, memory, mask) -> tuple[Tensor, Tensor]:
        """c_t = sum_j a_tj h_j, a_t = softmax_j(v^T tanh(W_a s + U_a h_j)).
        s [B, C] -> (c_t [B, C], a_t [B, S])"""
        H, _, keys = memory
        e = self.attn_score((keys + self.attn_query(s)[:, None, :]).tanh())  # [B, S, 1]
        e = F.masked_fill(e.reshape(e.shape[0], e.shape[1]), ~mask, -1e9)  # [B, S]
        a = F.softmax(e, axis=-1)
        return (a[:, None, :] @ H).reshape(H.shape[0], H.shape[2]), a  # [B, 1, S] @ [B, S, C]

    def decode(self, tgt_in, memory, src_mask, cache: KVCache | None = None,
               need_weights: bool = False):
        """tgt_in [B, T], memory -> logits [B, T, V] (, {"self": [], "cross": [[B, 1, T, S]]})

        With a `cache`, `tgt_in` holds only the new positions and the decoder's state s
        continues from the cache (kept as the entry (s, s), so that beam search's reorder
        keeps the surviving beams' states)."""
        H, c, _ = memory
        y = self.dropout(self.tgt_embed(token_ids(tgt_in)))  # [B, T, C]
        entry = cache.entries.get(self) if cache is not None else None
        s = entry[0] if entry is not None else self.bridge(c).tanh()  # [B, C]
        outputs, maps = [], []
        for t in range(y.shape[1]):  # the recurrence: step t needs s_{t-1}
            ctx, a = self._attend(s, memory, src_mask) if self.config.attention else (c, None)
            s = self.decoder(concatenate([y[:, t], ctx], axis=-1), s)
            outputs.append(concatenate([s, ctx], axis=-1))  # [B, 2C]
            maps.append(a)
        if cache is not None:
            cache.entries[self] = (s, s)
            cache.offset += y.shape[1]
        logits = self.generator(self.dropout(stack(outputs, axis=1)))  # [B, T, 2C] -> [B, T, V]
        if not need_weights:
            return logits
        cross = [np.stack([a.data for a in maps], axis=1)[:, None]] if maps[0] is not None else []
        return logits, {"self": [], "cross": cross}

    def forward(self, src, tgt_in, need_weights: bool = False):
        """src [B, S], tgt_in [B, T] -> logits [B, T, V_tgt] (, maps as `Transformer` gives)"""
        src_mask = self.src_mask(token_ids(src))
        memory = self.encode(src, src_mask)
        if not need_weights:
            return self.decode(tgt_in, memory, src_mask)
        logits, maps = self.decode(tgt_in, memory, src_mask, need_weights=True)
        return logits, {"encoder_self": [], "decoder_self": [], "cross": maps["cross"]}

    def extra_repr(self) -> str:
        kind = "with additive attention" if self.config.attention else "without attention"
        return f"{self.num_parameters():,} parameters, {kind}"
