"""Tensor: a NumPy array that remembers how it was made, and reverse-mode autograd.

Every differentiable op builds its output with `Tensor.from_op(out, parents, backward, op)`,
where `backward(g)` maps the upstream gradient `g` (in the output's shape) to one
gradient per parent (in the *output's* broadcast shape, or None). `backward` may also be a
tuple `(f, *saved)`, called as `f(g, *saved)`: a small op then allocates no closure (ops.py;
the ops whose FLOPs flops.py counts keep a function, which its counter wraps). The engine undoes
broadcasting for every op in one place, `unbroadcast`. One op, indexing, returns a
`Scatter` instead: its gradient is zero outside the slice it read, so the engine adds the
slice into one buffer per tensor rather than each slice bringing a full array of zeros.

`loss.backward()` visits the graph in reverse topological order (the reverse order in
which its tensors were created), iteratively (no recursion limit), and *adds* into the
`.grad` of every leaf that requires grad: calling it twice on the same graph adds the same
gradient twice, exactly as two losses summed would. Intermediate gradients live only for
the duration of the call.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import threading
from typing import NamedTuple

import numpy as np

DEFAULT_DTYPE = np.float32

class _State(threading.local):
    """Per-thread switches; class attributes are the defaults every new thread starts from."""

    grad_enabled = True
    anomaly = False


_state = _State()


def is_grad_enabled() -> bool:
    return _state.grad_enabled


def is_anomaly_enabled() -> bool:
    return _state.anomaly


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record nothing: no graph, no gradients, less memory."""
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


@contextlib.contextmanager
def detect_anomaly():
    """Raise as soon as an op produces NaN or Inf, forward or backward, naming the op."""
    previous = is_anomaly_enabled()
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = previous


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` down to `shape`: the adjoint of NumPy broadcasting `shape` -> `g.shape`."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    ones = tuple(extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    if not ones:  # only leading axes (a bias): the sum has the shape, in an array of its own
        return g.sum(axis=tuple(range(extra)))
    return g.sum(axis=tuple(range(extra)) + ones, keepdims=True).reshape(shape)


def _check_finite(array: np.ndarray, op: str, where: str) -> None:
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "Inf"
        raise FloatingPointError(f"anomaly: {op} produced {bad} in its {where} pass")


class Tensor:
    """An n-dimensional array with an optional gradient.

    Floating data default to float32; float64 is kept as float64 all the way through,
    which is what gradient checks use. Integer data (token ids) are allowed but cannot
    require grad.
    """

    __array_priority__ = 100  # so `ndarray * Tensor` calls Tensor.__rmul__
    _seq = 0  # creation order (below); a tensor is always made after the tensors it is made from

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
            array = np.asarray(data)
            dtype = DEFAULT_DTYPE if array.dtype.kind in "fc" or array.dtype == object else None
            data = array
        self.data = np.asarray(data, dtype=dtype)
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(
                f"only floating tensors can require grad, got dtype {self.data.dtype} "
                "(token ids and masks are integer/boolean inputs, not parameters)"
            )
        self.requires_grad = requires_grad
        self.grad: np.ndarray | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._backward = None
        self.op = "leaf"
        self._seq = next(_created)

    @classmethod
    def from_op(cls, out: np.ndarray, parents: tuple, backward, op: str) -> Tensor:
        """The output of an op: records `parents` and `backward` when a gradient is needed.

        `backward` is a function g -> gradients, or, to save allocating a closure per op, a tuple
        (f, *saved) that the engine calls as f(g, *saved)."""
        state = _state
        if state.anomaly:
            _check_finite(out, op, "forward")
        t = cls.__new__(cls)
        t.data, t.grad, t.op, t._seq = out, None, op, next(_created)
        if state.grad_enabled:
            for p in parents:
                if p.requires_grad:
                    t.requires_grad, t._parents, t._backward = True, parents, backward
                    return t
        t.requires_grad, t._parents, t._backward = False, (), None
        return t

    # -- array-like basics ---------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # -- reverse mode ----------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Add d(self)/d(leaf) * grad into every leaf's `.grad`.

        `grad` defaults to 1 for a scalar; a non-scalar needs an explicit `grad` of
        its own shape (the vector in the vector-Jacobian product).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran inside no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only on a scalar, but this "
                    f"tensor has shape {self.shape}: pass grad= of that shape, or reduce "
                    "it first (e.g. .sum() or .mean())"
                )
            grad = np.array(1, self.data.dtype).reshape(self.data.shape)
        grad = as_array(grad, dtype=self.data.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): grad has shape {grad.shape}, tensor has {self.shape}")

        # keyed by the tensors themselves: a Tensor hashes by identity (__hash__ below)
        grads = {self: grad}
        handed_out = {id(grad)}  # arrays a leaf may not keep as its own .grad
        buffers = {}  # tensor -> the zero-started array that Scatters add into
        anomaly = _state.anomaly
        for node in _reverse_topological(self):
            g = grads.pop(node, None)
            if buffers:
                buffers.pop(node, None)  # its gradient is complete: nothing adds into it now
            if g is None:
                continue
            f = node._backward
            if f is None:  # a leaf; 0-d sums are NumPy scalars: keep .grad an array
                node.grad = (_own(g, handed_out) if node.grad is None
                             else np.asarray(node.grad + g))
                continue
            pgs = f(g) if type(f) is not tuple else f[0](g, *f[1:])
            for parent, pg in zip(node._parents, pgs):
                if pg is None or not parent.requires_grad:
                    continue
                if type(pg) is Scatter:
                    grads[parent] = _scatter_add(grads.get(parent), pg, parent, buffers)
                    continue
                data = parent.data
                if type(pg) is not np.ndarray or pg.dtype != data.dtype:
                    pg = np.asarray(pg, dtype=data.dtype)
                if pg.shape != data.shape:
                    pg = unbroadcast(pg, data.shape)
                if anomaly:
                    _check_finite(pg, node.op, "backward")
                before = grads.get(parent)
                grads[parent] = pg if before is None else before + pg

    __hash__ = object.__hash__  # by identity, even if an elementwise __eq__ is added one day

    # Operators are attached in ops.py, next to their derivatives.


class Scatter(NamedTuple):
    """A gradient that is `g` at `index` and zero elsewhere (what indexing returns).

    k slices of one tensor (q, k, v cut from one projection; a recurrent layer's T time
    steps) then fill one buffer, instead of k full-size arrays of zeros added together."""

    index: object
    g: np.ndarray
    repeats: bool  # an integer-array index may repeat a position: its gradients add up


def _scatter_add(acc, s: Scatter, parent: Tensor, buffers: dict) -> np.ndarray:
    """acc + s, in place when acc is a buffer made here (no one else holds it)."""
    if is_anomaly_enabled():
        _check_finite(s.g, "getitem", "backward")
    if acc is None or buffers.get(parent) is not acc:
        # laid out as parent.data (order "K"): when parent is a permuted view (q, k, v as heads),
        # the permute's backward then hands a contiguous array on, and the reshape's is a view
        acc = np.zeros_like(parent.data) if acc is None else acc.astype(parent.dtype)
        buffers[parent] = acc
    if s.repeats:
        np.add.at(acc, s.index, s.g)
    else:
        acc[s.index] += s.g
    return acc


def _own(g: np.ndarray, handed_out: set) -> np.ndarray:
    """`g`, or a copy of it when it is a view or was already given to another leaf."""
    g = np.asarray(g)  # a 0-d gradient may arrive as a NumPy scalar
    if g.base is not None or not g.flags.writeable or id(g) in handed_out:
        g = g.copy()
    handed_out.add(id(g))
    return g


_created = itertools.count(1)  # Tensor._seq: thread-safe under the GIL
_by_creation = operator.attrgetter("_seq")


def _reverse_topological(root: Tensor) -> list[Tensor]:
    """Nodes that lead to `root`, each after every node that uses it.

    Every tensor is created after its parents, so the reverse order of creation is a reverse
    topological order: collect the nodes (a stack, no recursion) and sort them by `_seq`."""
    seen, stack = {root}, [root]
    while stack:
        for parent in stack.pop()._parents:
            if parent.requires_grad and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_by_creation, reverse=True)


def as_array(x, dtype=None) -> np.ndarray:
    """The array inside a Tensor, or `x` as an array: ids, masks and indices may come as either."""
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """`x` as a Tensor, promoted as torch does rather than as NumPy does.

    Python numbers, and integer or boolean arrays (masks, ids), take the dtype of a floating
    `like`: 2.0 * float32 and float32 * an int64 mask stay float32 (NumPy would give float64).
    Two floating operands keep NumPy's rule: float32 with float64 gives float64.
    """
    if isinstance(x, Tensor):
        return x
    if like is not None and (not isinstance(x, np.ndarray) or (
            x.dtype.kind in "biu" and like.data.dtype.kind == "f")):
        return _constant(np.asarray(x, dtype=like.data.dtype))
    return Tensor(x)


def _constant(array: np.ndarray) -> Tensor:
    """A leaf that needs no gradient, made without __init__'s checks (the 0.5 of 0.5 * x)."""
    t = Tensor.__new__(Tensor)
    t.data, t.grad, t.op, t._seq = array, None, "leaf", next(_created)
    t.requires_grad, t._parents, t._backward = False, (), None
    return t
