"""Parameter names, state dicts and masks between tinytransformer and torch.nn.

Our parameter names are torch's, except for three renames:

    ours                                   torch
    ...self_attn.in_proj.weight / .bias    ...self_attn.in_proj_weight / in_proj_bias
    ...cross_attn.                         ...multihead_attn.   (torch's decoder layer)
    encoder. / decoder.  (translator only) transformer.encoder. / transformer.decoder.

so `MultiHeadAttention` <-> `torch.nn.MultiheadAttention(d_model, num_heads,
batch_first=True)`, `EncoderLayer` / `DecoderLayer` <-> `torch.nn.TransformerEncoderLayer` /
`TransformerDecoderLayer(..., batch_first=True, norm_first=...)`, and the whole models <->
`TorchTranslator` / `TorchLanguageModel` (`interop/translator.py`, `interop/lm.py`).

Masks: ours are True where attention is *allowed*; torch's boolean masks are True where it is
*not*. `to_torch_mask` / `from_torch_mask` flip them.
"""

from __future__ import annotations

import numpy as np

# (ours, torch): substrings of dotted names that differ
_RENAMES = [(".in_proj.weight", ".in_proj_weight"), (".in_proj.bias", ".in_proj_bias"),
            (".cross_attn.", ".multihead_attn.")]


def torch_name(name: str, model: bool = True) -> str:
    """Our dotted parameter name -> torch's (`model`: a whole translator's name, whose
    encoder and decoder live in torch's `nn.Transformer`, named `transformer`)."""
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


def to_torch_names(state: dict, translator: bool) -> dict:
    """{our name: value} -> {torch name: the same value} (`translator`: a whole translator)."""
    return {torch_name(k, translator): v for k, v in state.items()}


def to_torch_state_dict(module) -> dict:
    """Our module's parameters as {torch name: torch.Tensor} (copies, same dtype).

    `module` is a `Transformer`, `LanguageModel`, `MultiHeadAttention`, `EncoderLayer` or
    `DecoderLayer`, or any module built from them; load the result with
    `torch_module.load_state_dict(...)`.
    """
    import torch

    from ..models.translator import Transformer
    state = to_torch_names(module.state_dict(), isinstance(module, Transformer))
    return {k: torch.from_numpy(v) for k, v in state.items()}


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
