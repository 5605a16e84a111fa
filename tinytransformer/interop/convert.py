"""Move weights between tinytransformer and PyTorch (torch is imported lazily; never required).

Our parameter names are torch's, except for three renames:

    ours                                   torch
    ...self_attn.in_proj.weight / .bias    ...self_attn.in_proj_weight / in_proj_bias
    ...cross_attn.                         ...multihead_attn.   (torch's decoder layer)
    encoder. / decoder.  (model only)      transformer.encoder. / transformer.decoder.

so `MultiHeadAttention` <-> `torch.nn.MultiheadAttention(d_model, num_heads,
batch_first=True)`, `EncoderLayer` / `DecoderLayer` <-> `torch.nn.TransformerEncoderLayer` /
`TransformerDecoderLayer(..., batch_first=True, norm_first=...)`, and the whole `Transformer`
<-> `torch_reference(config)`, a small torch module defined here:

    src_embed, tgt_embed   nn.Embedding                     (same names)
    src_pos, tgt_pos       nn.Embedding(max_len, d_model)    (learned positions only)
    transformer            nn.Transformer(batch_first=True) with custom nn.TransformerEncoder /
                           nn.TransformerDecoder stacks whose final LayerNorm exists only when
                           norm_first (plain nn.Transformer always adds one)
    generator              nn.Linear(d_model, tgt_vocab)     (absent with tie_embeddings)

Masks: ours are True where attention is *allowed*; torch's boolean masks are True where it is
*not*. `to_torch_mask` / `from_torch_mask` flip them.
"""

from __future__ import annotations

import numpy as np

from .nn.attention import causal_mask, padding_mask
from .nn.transformer import SinusoidalPositionalEncoding

# (ours, torch): substrings of dotted names that differ
_RENAMES = [(".in_proj.weight", ".in_proj_weight"), (".in_proj.bias", ".in_proj_bias"),
            (".cross_attn.", ".multihead_attn.")]


def torch_name(name: str, model: bool = True) -> str:
    """Our dotted parameter name -> torch's (`model`: a whole `Transformer`'s name)."""
    for ours, theirs in _RENAMES:
        name = ("." + name).replace(ours, theirs)[1:]
    if model and name.startswith(("encoder.", "decoder.")):
        name = "transformer." + name
    return name


def our_name(name: str) -> str:
    """torch's dotted parameter name -> ours."""
    name = name.removeprefix("transformer.")
    for ours, theirs in _RENAMES:
        name = ("." + name).replace(theirs, ours)[1:]
    return name


def to_torch_state_dict(module) -> dict:
    """Our module's parameters as {torch name: torch.Tensor} (copies, same dtype).

    `module` is a `Transformer`, `MultiHeadAttention`, `EncoderLayer` or `DecoderLayer`, or
    any module built from them; load the result with `torch_module.load_state_dict(...)`.
    """
    import torch

    from .models.translator import Transformer
    model = isinstance(module, Transformer)
    return {torch_name(k, model): torch.from_numpy(v) for k, v in module.state_dict().items()}


def from_torch_state_dict(state: dict) -> dict[str, np.ndarray]:
    """A torch state dict (of the modules listed above) as {our name: np.ndarray} (copies);
    load it with `our_module.load_state_dict(...)`."""
    return {our_name(k): v.detach().cpu().numpy().copy() for k, v in state.items()}


def to_torch_mask(mask: np.ndarray):
    """Our mask (True = may attend) -> a torch boolean mask (True = may NOT attend)."""
    import torch
    return torch.from_numpy(~np.asarray(mask, dtype=bool))


def from_torch_mask(mask) -> np.ndarray:
    """A torch boolean mask (True = may NOT attend) -> ours (True = may attend)."""
    return ~mask.detach().cpu().numpy().astype(bool)


def torch_reference(config):
    """The torch module that a `Transformer(config)` maps onto, name for name.

    Its forward(src, tgt_in) takes LongTensors and returns logits [B, T, V]; it builds the
    same masks from `config.pad_id` (flipped to torch's convention). Load our weights with
    `ref.load_state_dict(to_torch_state_dict(model))`.
    """
    import torch
    from torch import nn

    c = config
    dtype = {"float32": torch.float32, "float64": torch.float64}[c.dtype]

    class TorchTranslator(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(c.src_vocab, c.d_model)
            self.tgt_embed = nn.Embedding(c.tgt_vocab, c.d_model)
            if c.positional == "learned":
                self.src_pos = nn.Embedding(c.max_len, c.d_model)
                self.tgt_pos = nn.Embedding(c.max_len, c.d_model)
            pe = SinusoidalPositionalEncoding(c.d_model, c.max_len).pe
            self.register_buffer("pe", torch.from_numpy(pe), persistent=False)
            self.dropout = nn.Dropout(c.dropout)
            self.transformer = _torch_transformer(c, nn)
            if not c.tie_embeddings:
                self.generator = nn.Linear(c.d_model, c.tgt_vocab)

        def embed(self, ids, embedding, pos):  # [B, T] -> [B, T, C]
            x = embedding(ids) * c.d_model**0.5
            T = ids.shape[1]
            if c.positional == "sinusoidal":
                x = x + self.pe[:T].to(x.dtype)
            elif c.positional == "learned":
                x = x + pos.weight[:T]
            return self.dropout(x)

        def forward(self, src, tgt_in):
            src_pad = to_torch_mask(padding_mask(src.numpy(), c.pad_id)[:, 0, 0])  # [B, S]
            tgt_pad = to_torch_mask(padding_mask(tgt_in.numpy(), c.pad_id)[:, 0, 0])  # [B, T]
            causal = to_torch_mask(causal_mask(tgt_in.shape[1]))  # [T, T]
            x = self.transformer(
                self.embed(src, self.src_embed, getattr(self, "src_pos", None)),
                self.embed(tgt_in, self.tgt_embed, getattr(self, "tgt_pos", None)),
                tgt_mask=causal, src_key_padding_mask=src_pad,
                tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
            if c.tie_embeddings:
                return x @ self.tgt_embed.weight.T
            return self.generator(x)

    return TorchTranslator().to(dtype)


def _torch_transformer(c, nn):
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
