"""What every model config shares: checked on creation, saved and loaded as JSON-able dicts.

A config is a dataclass (`TransformerConfig`, `LanguageModelConfig`, ...) that mixes in
`ConfigMixin`; `to_dict()` goes into a checkpoint's meta.json and `from_dict()` rebuilds it,
refusing fields it does not know.
"""

from __future__ import annotations

from dataclasses import asdict, fields

import numpy as np

from ..tensor import as_array

DTYPES = ("float32", "float64")


class ConfigMixin:
    """Shared by the model configs: checked on creation, saved and loaded as JSON-able dicts."""

    def __post_init__(self):
        check_config(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**known_fields(cls, d))


def check_config(c) -> None:
    """Refuse a config that could not build a model, naming the field."""
    if c.d_model % c.num_heads != 0:
        raise ValueError(f"{type(c).__name__}: d_model={c.d_model} is not divisible by "
                         f"num_heads={c.num_heads}")
    if c.dtype not in DTYPES:
        raise ValueError(f"{type(c).__name__}: dtype must be one of {DTYPES}, got {c.dtype!r}")
    if not 0.0 <= c.dropout < 1.0:
        raise ValueError(f"{type(c).__name__}: dropout must be in [0, 1), got {c.dropout}")


def known_fields(cls, d: dict) -> dict:
    """`d` if every key is a field of the dataclass `cls`; otherwise an error naming the others."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {unknown}")
    return dict(d)


def token_ids(ids) -> np.ndarray:
    """Token ids as an integer array [B, T]."""
    ids = as_array(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"token ids must be an integer array [B, T], got {ids.dtype} {ids.shape}")
    return ids
