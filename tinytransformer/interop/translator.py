"""The translator in PyTorch, built from torch.nn's parts, parameter for parameter ours.

    src_embed, tgt_embed   nn.Embedding                     (same names)
    src_pos, tgt_pos       nn.Embedding(max_len, d_model)    (learned positions only)
    transformer            nn.Transformer(batch_first=True) with custom nn.TransformerEncoder /
                           nn.TransformerDecoder stacks whose final LayerNorm exists only when
                           norm_first (plain nn.Transformer always adds one)
    generator              nn.Linear(d_model, tgt_vocab)     (absent with tie_embeddings)

Masks are built from `pad_id` in torch's convention (True = may NOT attend), on the tokens'
device, so the module runs wherever torch does. This module imports torch: import it only when
torch is installed (`interop.torch_model` does it for you).
"""

from __future__ import annotations

import torch
from torch import nn

from ..data import BOS_ID, EOS_ID
from ..nn.transformer import SinusoidalPositionalEncoding

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def causal(T: int, device) -> torch.Tensor:
    """torch's causal mask: True above the diagonal (the future may NOT be attended).  [T, T]"""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)


class Embedder(nn.Module):
    """x = Dropout(E[ids] * sqrt(d_model) + PE[:T])  (nn.embed_tokens, in torch).

    `kind` is "sinusoidal" (a fixed table, not saved), "learned" (its `pos` table is the
    owner's nn.Embedding, passed to forward) or "none".
    """

    def __init__(self, kind: str, d_model: int, max_len: int, dropout: float):
        super().__init__()
        self.kind, self.scale = kind, d_model**0.5
        pe = SinusoidalPositionalEncoding(d_model, max_len).pe  # [max_len, C] float64
        self.register_buffer("pe", torch.from_numpy(pe), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids, embedding: nn.Embedding, pos: nn.Embedding | None):
        x = embedding(ids) * self.scale  # [B, T] -> [B, T, C]
        T = ids.shape[1]
        if self.kind == "sinusoidal":
            x = x + self.pe[:T].to(x.dtype)
        elif self.kind == "learned":
            x = x + pos.weight[:T]
        return self.dropout(x)


class TorchTranslator(nn.Module):
    """forward(src [B, S], tgt_in [B, T]) -> logits [B, T, V_tgt], as `models.Transformer`."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.src_embed = nn.Embedding(c.src_vocab, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab, c.d_model)
        if c.positional == "learned":
            self.src_pos = nn.Embedding(c.max_len, c.d_model)
            self.tgt_pos = nn.Embedding(c.max_len, c.d_model)
        self.embedder = Embedder(c.positional, c.d_model, c.max_len, c.dropout)
        self.transformer = _transformer(c)
        if not c.tie_embeddings:
            self.generator = nn.Linear(c.d_model, c.tgt_vocab)
        self.to(DTYPES[c.dtype])

    def encode(self, src):  # [B, S] -> memory [B, S, C]
        x = self.embedder(src, self.src_embed, getattr(self, "src_pos", None))
        return self.transformer.encoder(x, src_key_padding_mask=src == self.config.pad_id)

    def decode(self, tgt_in, memory, src):  # [B, T], [B, S, C], [B, S] -> logits [B, T, V]
        pad = self.config.pad_id
        x = self.embedder(tgt_in, self.tgt_embed, getattr(self, "tgt_pos", None))
        x = self.transformer.decoder(x, memory, tgt_mask=causal(tgt_in.shape[1], x.device),
                                     tgt_key_padding_mask=tgt_in == pad,
                                     memory_key_padding_mask=src == pad)
        if self.config.tie_embeddings:
            return x @ self.tgt_embed.weight.T  # [B, T, C] @ [C, V]
        return self.generator(x)

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, self.encode(src), src)


def _transformer(c) -> nn.Transformer:
    """nn.Transformer with our stacks: a final LayerNorm only when the layers are pre-LN."""
    layer_args = dict(d_model=c.d_model, nhead=c.num_heads, dim_feedforward=c.d_ff,
                      dropout=c.dropout, activation=c.activation, batch_first=True,
                      norm_first=c.norm_first)
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(**layer_args), c.num_encoder_layers,
        norm=nn.LayerNorm(c.d_model) if c.norm_first else None, enable_nested_tensor=False)
    decoder = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(**layer_args), c.num_decoder_layers,
        norm=nn.LayerNorm(c.d_model) if c.norm_first else None)
    return nn.Transformer(d_model=c.d_model, nhead=c.num_heads, custom_encoder=encoder,
                          custom_decoder=decoder, dropout=c.dropout, batch_first=True)


@torch.no_grad()
def torch_greedy(model: TorchTranslator, src, max_len: int = 50, bos_id: int = BOS_ID,
                 eos_id: int = EOS_ID) -> list[list[int]]:
    """src [B, S] -> B lists of target ids, argmax at each step (`decode.greedy`, without a
    cache: the decoder re-reads the whole prefix each step)."""
    max_len = min(max_len, model.config.max_len - 1)  # the positions after <bos>, as greedy's
    memory = model.encode(src)
    ys = torch.full((len(src), 1), bos_id, dtype=torch.long, device=src.device)  # [B, 1]
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        nxt = model.decode(ys, memory, src)[:, -1].argmax(-1)  # [B]
        nxt = torch.where(done, model.config.pad_id, nxt)
        ys = torch.cat([ys, nxt[:, None]], dim=1)  # [B, t + 1]
        done |= nxt == eos_id
        if done.all():
            break
    rows = [row[1:].tolist() for row in ys]
    return [row[:row.index(eos_id)] if eos_id in row else row for row in rows]


def torch_translate(model: TorchTranslator, vocabs, sentences: list[str]) -> list[str]:
    """English sentences -> Chinese strings by greedy decoding in torch (`translate.translate`
    with beam_size 1), the vocabularies those of the checkpoint the model was exported from."""
    from ..data.tokenize import detokenize_zh
    from ..translate import encode_sources

    src_vocab, tgt_vocab = vocabs
    todo = [i for i, s in enumerate(sentences) if s.strip()]  # a blank sentence gives ""
    src = encode_sources(src_vocab, [sentences[i] for i in todo], model.config.max_len)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    ids = torch_greedy(model, torch.from_numpy(src).to(device)) if todo else []
    model.train(was_training)
    out = [""] * len(sentences)
    for i, row in zip(todo, ids):
        out[i] = detokenize_zh(tgt_vocab.decode(row))
    return out
