"""Checks for configuration values, shared by the config dataclasses and the command line.

Each check takes a value, or the string the command line got, and returns it converted, or
raises ValueError saying what is allowed. A dataclass field names its check and its help in
`option(...)`; `check_fields` runs the checks when the config is built, and the command line
builds its flags from the same fields, so a rule and a default are written once.

    steps: int = option(1500, "training steps", positive_int)
"""

from __future__ import annotations

import math
from dataclasses import field, fields


def option(default, help: str, check=None):
    """A dataclass field with its help text and its check (a function below, or None).

    A dict default is copied for each instance (dataclasses' default_factory).
    """
    metadata = {"help": help, "check": check}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def positive_int(value) -> int:
    n = _number(value, int)
    if n < 1:
        raise ValueError(f"must be a whole number >= 1, got {value}")
    return n


def positive_float(value) -> float:
    x = _number(value, float)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"must be a finite number > 0, got {value}")
    return x


def nonnegative_float(value) -> float:
    x = _number(value, float)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"must be a finite number >= 0, got {value}")
    return x


def probability(value) -> float:
    """A rate in [0, 1): dropout, label smoothing."""
    x = _number(value, float)
    if not 0.0 <= x < 1.0:
        raise ValueError(f"must be in [0, 1), got {value}")
    return x


def temperature(value) -> float:
    """A sampling temperature: 0 (greedy) or a finite number > 0."""
    return 0.0 if _number(value, float) == 0 else positive_float(value)


def top_p(value) -> float:
    """A nucleus mass in (0, 1]."""
    p = positive_float(value)
    if p > 1:
        raise ValueError(f"must be in (0, 1], got {value}")
    return p


def _number(value, kind):
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value}")
    try:
        x = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a {'whole ' if kind is int else ''}number, got {value!r}") \
            from None
    if kind is int and isinstance(value, float) and value != x:
        raise ValueError(f"must be a whole number, got {value}")
    return x


def check_fields(config) -> None:
    """Run each field's check on its value (None means "not set" and passes)."""
    for f in fields(config):
        check = f.metadata.get("check")
        value = getattr(config, f.name)
        if check is not None and value is not None:
            try:
                setattr(config, f.name, check(value))
            except ValueError as e:
                raise ValueError(f"{type(config).__name__}: {f.name} {e}") from None
