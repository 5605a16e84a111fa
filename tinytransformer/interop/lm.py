"""The decoder-only language model in PyTorch, built from torch.nn's parts, parameter for
parameter ours (`models.LanguageModel`):

    embed     nn.Embedding(vocab_size, d_model)
    pos       nn.Embedding(max_len, d_model)          (learned positions only)
    blocks    nn.TransformerEncoder of nn.TransformerEncoderLayer(batch_first=True,
              norm_first=...), under a causal mask, with a final LayerNorm when pre-LN
    lm_head   nn.Linear(d_model, vocab_size)          (absent with tie_embeddings)

An encoder layer under a causal mask is a GPT block, here as in `models/lm.py`. This module
imports torch: import it only when torch is installed (`interop.torch_model` does it for you).
"""

from __future__ import annotations

from torch import nn

from .translator import DTYPES, Embedder, causal


class TorchLanguageModel(nn.Module):
    """forward(tokens [B, T]) -> logits [B, T, V] for the next token, as `LanguageModel`."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        if c.positional == "learned":
            self.pos = nn.Embedding(c.max_len, c.d_model)
        self.embedder = Embedder(c.positional, c.d_model, c.max_len, c.dropout)
        layer = nn.TransformerEncoderLayer(c.d_model, c.num_heads, c.d_ff, c.dropout,
                                           c.activation, batch_first=True,
                                           norm_first=c.norm_first)
        self.blocks = nn.TransformerEncoder(
            layer, c.num_layers, norm=nn.LayerNorm(c.d_model) if c.norm_first else None,
            enable_nested_tensor=False)
        if not c.tie_embeddings:
            self.lm_head = nn.Linear(c.d_model, c.vocab_size)
        self.to(DTYPES[c.dtype])

    def forward(self, tokens):  # [B, T] -> [B, T, V]
        x = self.embedder(tokens, self.embed, getattr(self, "pos", None))  # [B, T, C]
        T = tokens.shape[1]
        x = self.blocks(x, mask=causal(T, x.device), is_causal=True)
        if self.config.tie_embeddings:
            return x @ self.embed.weight.T  # [B, T, C] @ [C, V]
        return self.lm_head(x)
