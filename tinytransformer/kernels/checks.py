"""Argument checks for the kernels: an error names the op, the array and the shapes, so that no
kernel fails deep inside NumPy or Numba. Shapes are written as specs, "x[N,C] w[C]": equal letters
are equal sizes, "..." is any leading axes.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def parse(spec: str) -> tuple:
    """ "x[N,C] w[...,C]" -> (("x", ("N", "C")), ("w", ("...", "C")))"""
    pairs = (item.rstrip("]").split("[") for item in spec.split())
    return tuple((name, tuple(dims.split(","))) for name, dims in pairs)


def check(op: str, spec: str, **arrays) -> None:
    """Check arrays against a shape spec like "x[N,C] w[C]": equal letters are equal sizes, and
    "..." stands for any leading axes. Then check their dtypes (see check_dtypes)."""
    sizes = {}
    for name, dims in parse(spec):
        a = arrays[name]
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: {name} must be a NumPy array, got {type(a).__name__}")
        free = dims[0] == "..."
        dims = dims[free:]
        if a.ndim != len(dims) and not (free and a.ndim > len(dims)):
            raise ValueError(f"{op}: {name} must be [{', '.join(dims)}], got shape {a.shape}")
        for d, n in zip(dims, a.shape[a.ndim - len(dims):], strict=True):
            first = sizes.setdefault(d, (n, name, a.shape))
            if first[0] != n:
                raise ValueError(f"{op}: {name} has shape {a.shape} but {d} = {first[0]} "
                                 f"from {first[1]} {first[2]} (spec {spec})")
    check_dtypes(op, arrays)


def check_dtypes(op: str, arrays: dict) -> None:
    """Float arrays all float32 or all float64; `target` and `ids` integer arrays."""
    first = None
    for name, a in arrays.items():
        if name in ("target", "ids"):
            if a.dtype.kind not in "iu":
                raise TypeError(f"{op}: {name} must hold integer ids, got {a.dtype}")
        elif a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{op}: {name} is {a.dtype}; kernels take float32 or float64")
        elif first is None:
            first = name
        elif a.dtype != arrays[first].dtype:
            raise TypeError(f"{op}: {name} is {a.dtype} but {first} is {arrays[first].dtype}; "
                            "cast one of them")


def check_alike(op: str, **arrays) -> None:
    """Arrays of one shape, whatever it is (an elementwise kernel), and one float dtype."""
    check(op, " ".join(f"{name}[...]" for name in arrays), **arrays)
    first, *rest = arrays.items()
    for name, a in rest:
        if a.shape != first[1].shape:
            raise ValueError(f"{op}: {name} has shape {a.shape}, {first[0]} has {first[1].shape}")


def check_mask(op: str, mask, shape: tuple) -> None:
    """A mask is None or a bool array that broadcasts to `shape`."""
    if mask is None:
        return
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool array (True = may attend), got {mask!r:.60}")
    try:
        if np.broadcast_shapes(mask.shape, shape) == shape:
            return
    except ValueError:
        pass
    raise ValueError(f"{op}: mask of shape {mask.shape} does not broadcast to {shape}")


def check_targets(op, logits, target, ignore_index, label_smoothing) -> None:
    """Class ids in [0, V) or ignore_index; 0 <= label_smoothing <= 1."""
    check(op, "logits[N,V] target[N]", logits=logits, target=target)
    bad = (target != ignore_index) & ((target < 0) | (target >= logits.shape[1]))
    if bad.any():
        n = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{op}: target[{n}] = {target[n]} is not a class id in [0, "
                         f"{logits.shape[1]}) nor ignore_index = {ignore_index}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing = {label_smoothing} is not in [0, 1]")
