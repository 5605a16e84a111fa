"""Argument checks for the kernels: an error names the op, the array and the shapes, so that no
kernel fails deep inside NumPy or Numba. Shapes are written as specs, "x[N,C] w[C]": equal letters
are equal sizes, "..." is any leading axes.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

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


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def alike(x, y=None) -> bool:
    """True if x (and y) are float32 or float64 arrays of one shape and dtype: the case in which
    check_alike has nothing to say, tested without building its spec (relu runs every step)."""
    return type(x) is np.ndarray and x.dtype in _FLOATS and (y is None or (
        type(y) is np.ndarray and y.dtype == x.dtype and y.shape == x.shape))


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


class OutOfRange(IndexError, ValueError):
    """An id outside its table: an IndexError, as NumPy's indexing raises, and a ValueError, as
    for any other bad argument value (numpy.exceptions.AxisError is both in the same way)."""


class CheckedIds(NamedTuple):
    """Ids that `check_ids` found in range: a private, read-only, flat int64 copy, with the size
    of their table. A kernel given these does not check them again (see check_ids)."""

    ids: np.ndarray
    n: int
    ignore_index: int | None


def check_ids(op: str, ids, n: int, ignore_index: int | None = None) -> CheckedIds:
    """Integer ids in [0, n) (or equal to ignore_index): the one range check of a training step.

    functional.cross_entropy and functional.embedding call it once per step and hand the result
    to their kernels, forward and backward; a kernel called with a plain array checks that array
    itself (check_targets, checked_ids), so no id ever reaches a compiled loop unchecked.
    """
    ids = np.asarray(ids)
    name = "ids" if ignore_index is None else "target"
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be integers, got dtype {ids.dtype}")
    flat = ids.astype(np.int64).reshape(-1)  # a copy: nobody else can change it after the check
    bad = (flat < 0) | (flat >= n)
    if ignore_index is not None:
        bad &= flat != ignore_index
    if bad.any():
        if ignore_index is None:
            raise OutOfRange(f"{op}: ids must lie in [0, {n}), got min {flat.min()}, "
                             f"max {flat.max()}")
        i = int(np.flatnonzero(bad)[0])
        raise OutOfRange(f"{op}: target[{i}] = {flat[i]} is not a class id in [0, {n}) nor "
                         f"ignore_index = {ignore_index}: out of range for {n} classes")
    flat.setflags(write=False)
    return CheckedIds(flat, n, ignore_index)


def checked_ids(op: str, ids, n: int, ignore_index: int | None = None) -> np.ndarray:
    """The array of `ids`, range-checked: CheckedIds made for this table pass as they are (they
    were checked once already), anything else goes through check_ids."""
    if not isinstance(ids, CheckedIds):
        return check_ids(op, ids, n, ignore_index).ids
    if ids.n != n or ids.ignore_index != ignore_index:
        raise ValueError(f"{op}: ids were checked for {ids.n} entries (ignore_index "
                         f"{ids.ignore_index}), not {n} (ignore_index {ignore_index})")
    return ids.ids


def check_targets(op, logits, target, ignore_index, label_smoothing) -> np.ndarray:
    """Targets [N] (an integer array, or CheckedIds) for logits [N, V]: class ids in [0, V) or
    ignore_index; 0 <= label_smoothing <= 1.  -> the targets' int array"""
    ids = target.ids if isinstance(target, CheckedIds) else target
    check(op, "logits[N,V] target[N]", logits=logits, target=ids)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing = {label_smoothing} is not in [0, 1]")
    return checked_ids(op, target, logits.shape[1], ignore_index)
