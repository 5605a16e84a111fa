"""Primitive differentiable ops: each forward sits beside its backward (vector-Jacobian product).

Every `backward(g)` returns one gradient per input, in the *output's* shape where the op
broadcasts; `Tensor.backward` sums it back to each input's shape (`unbroadcast`). The
comment above each backward is the derivative, with `g` the upstream gradient dL/d(out).
Everything else (softmax, layer norm, cross-entropy, ...) is in `functional.py`.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .tensor import Scatter, Tensor, as_array, as_tensor


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
        "(trailing dimensions must be equal or 1)"
    )


def _binary(op: str, a, b, forward, backward) -> Tensor:
    """forward(a, b) as a node whose backward is called as backward(g, a, b, out) on arrays.

    `backward` is a module-level function and the node keeps (backward, a, b, out) as a tuple:
    no closure is allocated per op (Tensor.from_op)."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
        b = as_tensor(b, like=a)
    x, y = a.data, b.data
    try:
        out = forward(x, y)
    except ValueError as e:
        raise _broadcast_error(op, a, b) from e
    return Tensor.from_op(out, (a, b), (backward, x, y, out), op)


# -- arithmetic ------------------------------------------------------------------------
def _add_backward(g, x, y, out):
    # dL/da = g,  dL/db = g
    return g, g


def _sub_backward(g, x, y, out):
    # dL/da = g,  dL/db = -g
    return g, -g


def _mul_backward(g, x, y, out):
    # dL/da = g * b,  dL/db = g * a
    if x is y:  # a * a: the engine adds the two halves of 2 a g
        ga = g * x
        return ga, ga
    return g * y, g * x


def _div_backward(g, x, y, out):
    # dL/da = g / b,  dL/db = -g * a / b^2 = -g * out / b
    return g / y, -g * out / y


def add(a, b) -> Tensor:
    return _binary("add", a, b, np.add, _add_backward)


def sub(a, b) -> Tensor:
    return _binary("sub", a, b, np.subtract, _sub_backward)


def mul(a, b) -> Tensor:
    return _binary("mul", a, b, np.multiply, _mul_backward)


def div(a, b) -> Tensor:
    return _binary("div", a, b, np.divide, _div_backward)


def power(a, b) -> Tensor:
    """a ** b. As in torch, d/db is NaN for a < 0 (log a is not real) and 0 where a = 0, b >= 0."""
    # dL/da = g * b * a^(b-1)  (0 where b = 0, also at a = 0),  dL/db = g * a^b * log(a)
    def backward(g, x, y, out):
        ga = g * np.where(y == 0, 0, y * x ** np.where(y == 0, 1, y - 1))
        if not isinstance(b, Tensor):
            return ga, None
        with np.errstate(invalid="ignore", divide="ignore"):
            gy = g * np.where((x == 0) & (y >= 0), 0, out * np.log(x))
        return ga, gy

    return _binary("pow", a, b, np.power, backward)


def _neg_backward(g):
    # dL/dx = -g
    return (-g,)


def neg(x: Tensor) -> Tensor:
    return Tensor.from_op(-x.data, (x,), (_neg_backward,), "neg")


def matmul(a, b) -> Tensor:
    """out = a @ b, batched over leading dims with broadcasting; 1-D operands as in NumPy.

    [..., M, K] @ [..., K, N] -> [..., M, N]
    """
    a, b = as_tensor(a), as_tensor(b)
    x, y = a.data, b.data
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("matmul: operands must have at least 1 dimension, "
                         f"got {a.shape} @ {b.shape}")
    a_vector, b_vector = x.ndim == 1, y.ndim == 1
    x = x[None, :] if a_vector else x  # [K] -> [1, K]
    y = y[:, None] if b_vector else y  # [K] -> [K, 1]
    if x.shape[-1] != y.shape[-2]:
        raise ValueError(
            f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
            f"({x.shape[-1]} != {y.shape[-2]})"
        )
    try:
        out = x @ y
    except ValueError as e:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} "
                         "do not broadcast") from e

    # dL/da = g @ b^T,  dL/db = a^T @ g   (batch dims are summed by unbroadcast)
    def backward(g):
        if a_vector or b_vector:
            g = g.reshape(full_shape)  # [..., M, N], with the 1-D operands' unit axes back
        ga = g @ y.swapaxes(-1, -2) if a.requires_grad else None
        gb = x.swapaxes(-1, -2) @ g if b.requires_grad else None
        if gb is not None and b_vector:
            gb = gb[..., 0]  # [..., K, 1] -> [..., K]
        return ga, gb

    full_shape = out.shape
    if a_vector:
        out = out[..., 0, :]
    if b_vector:
        out = out[..., 0]
    return Tensor.from_op(out, (a, b), backward, "matmul")


# -- elementwise functions ---------------------------------------------------------------
def exp(x: Tensor) -> Tensor:
    out = np.exp(x.data)
    # dL/dx = g * exp(x)
    return Tensor.from_op(out, (x,), lambda g: (g * out,), "exp")


def log(x: Tensor) -> Tensor:
    out = np.log(x.data)
    # dL/dx = g / x
    return Tensor.from_op(out, (x,), lambda g: (g / x.data,), "log")


def sqrt(x: Tensor) -> Tensor:
    out = np.sqrt(x.data)
    # dL/dx = g / (2 sqrt(x))
    return Tensor.from_op(out, (x,), lambda g: (g / (2 * out),), "sqrt")


def tanh(x: Tensor) -> Tensor:
    out = np.tanh(x.data)
    # dL/dx = g * (1 - tanh(x)^2)
    return Tensor.from_op(out, (x,), lambda g: (g * (1 - out * out),), "tanh")


def _relu_backward(g, out):
    # dL/dx = g * [x > 0] = g * [out > 0]
    return (kernels.relu_backward(g, out),)


def relu(x: Tensor) -> Tensor:
    out = kernels.relu(x.data)  # max(x, 0): one compiled pass is 2-3x np.maximum's here
    return Tensor.from_op(out, (x,), (_relu_backward, out), "relu")


def where(cond, a, b) -> Tensor:
    """out = a where cond else b; `cond` is a boolean array (not differentiable)."""
    cond = as_array(cond, dtype=bool)
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    try:
        out = np.where(cond, a.data, b.data)
    except ValueError as e:
        raise ValueError(f"where: shapes cond {cond.shape}, a {a.shape}, b {b.shape} "
                         "cannot be broadcast together") from e
    zero = np.zeros((), dtype=out.dtype)
    # dL/da = g * cond,  dL/db = g * (1 - cond)
    return Tensor.from_op(out, (a, b), lambda g: (np.where(cond, g, zero), np.where(cond, zero, g)),
                          "where")


def expit(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + exp(-z)) on a NumPy array, without overflow: exp(-|z|) <= 1."""
    e = np.exp(-np.abs(z))
    r = 1 / (1 + e)
    return np.where(z >= 0, r, e * r)


def sigmoid(x: Tensor) -> Tensor:
    """sigma(x) = 1 / (1 + exp(-x))"""
    out = expit(x.data)
    # dL/dx = g * sigma(x) (1 - sigma(x))
    return Tensor.from_op(out, (x,), lambda g: (g * out * (1 - out),), "sigmoid")


def absolute(x: Tensor) -> Tensor:
    """|x| (np.absolute; the method is `x.abs()`). As in torch, the gradient at x = 0 is 0."""
    # dL/dx = g * sign(x)
    return Tensor.from_op(np.abs(x.data), (x,), lambda g: (g * np.sign(x.data),), "abs")


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """min(max(x, min), max) (torch.clamp, NumPy's clip); a bound left None is not applied."""
    if min is None and max is None:
        raise ValueError("clamp: give min, max or both (with neither it would do nothing)")
    out = np.clip(x.data, min, max)
    inside = ((x.data >= min) if min is not None else True) & \
        ((x.data <= max) if max is not None else True)
    # dL/dx = g where min <= x <= max (the bounds included, as torch), 0 where x was clipped
    return Tensor.from_op(out, (x,), lambda g: (np.where(inside, g, np.zeros((), g.dtype)),),
                          "clamp")


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b), broadcasting. Where a == b each gets half the gradient (torch)."""
    # dL/da = g * ([a > b] + [a == b] / 2),  dL/db = g * ([a < b] + [a == b] / 2)
    return _binary("maximum", a, b, np.maximum, lambda g, x, y, out: (
        g * ((x > y) + 0.5 * (x == y)), g * ((x < y) + 0.5 * (x == y))))


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b), broadcasting. Where a == b each gets half the gradient (torch)."""
    # dL/da = g * ([a < b] + [a == b] / 2),  dL/db = g * ([a > b] + [a == b] / 2)
    return _binary("minimum", a, b, np.minimum, lambda g, x, y, out: (
        g * ((x < y) + 0.5 * (x == y)), g * ((x > y) + 0.5 * (x == y))))


# -- reductions --------------------------------------------------------------------------
def _keep(g: np.ndarray, axis, keepdims: bool) -> np.ndarray:
    """Re-insert reduced axes into `g` so it broadcasts against the input."""
    return g if keepdims or axis is None else np.expand_dims(g, axis)


def _expand(g, shape: tuple) -> np.ndarray:
    """g broadcast to `shape`, as a read-only view; a 0-d g (a full sum's) without np.broadcast_to,
    which costs ten times more than the rest of a small op's backward."""
    if g.ndim:
        return np.broadcast_to(g, shape)
    out = np.ndarray(shape, g.dtype, np.ascontiguousarray(g), 0, (0,) * len(shape))
    out.flags.writeable = False
    return out


def _sum_backward(g, shape, axis, keepdims):
    # dL/dx = g broadcast back over the summed axes
    return (_expand(np.asarray(_keep(g, axis, keepdims)), shape),)


def reduce_sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    out = np.asarray(x.data.sum(axis=axis, keepdims=keepdims))
    return Tensor.from_op(out, (x,), (_sum_backward, x.shape, axis, keepdims), "sum")


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    out = np.mean(x.data, axis=axis, keepdims=keepdims)
    n = x.data.size // np.asarray(out).size if np.size(out) else 1
    # dL/dx = g / n broadcast back over the averaged axes
    return Tensor.from_op(np.asarray(out), (x,),
                          lambda g: (np.broadcast_to(_keep(g, axis, keepdims) / n, x.shape),),
                          "mean")


def reduce_max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    out = np.max(x.data, axis=axis, keepdims=True)

    # dL/dx = g at the arg-max (shared equally between ties), 0 elsewhere
    def backward(g):
        hit = x.data == out
        return (_keep(g, axis, keepdims) * hit / hit.sum(axis=axis, keepdims=True),)

    value = out if keepdims else (out.reshape(()) if axis is None else np.squeeze(out, axis))
    return Tensor.from_op(value, (x,), backward, "max")


def reduce_min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """min x = -max(-x); the gradient goes to the arg-min (shared between ties)."""
    return neg(reduce_max(neg(x), axis=axis, keepdims=keepdims))


def var(x: Tensor, axis=None, keepdims: bool = False, correction: int | None = None,
        ddof: int | None = None) -> Tensor:
    """Var(x) = sum (x - mean(x))^2 / (N - correction), over `axis` (N elements).

    `correction` is torch's name, `ddof` NumPy's; the default is torch's, 1 (unbiased);
    NumPy's default is ddof=0. Composed: mean, sub, mul and sum carry the gradient.
    """
    if correction is not None and ddof is not None and correction != ddof:
        raise ValueError(f"var: correction={correction} and ddof={ddof} are the same thing "
                         "(torch's and NumPy's name); give one")
    c = correction if correction is not None else (ddof if ddof is not None else 1)
    n = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    d = x - mean(x, axis=axis, keepdims=True)  # [...] centred
    return reduce_sum(d * d, axis=axis, keepdims=keepdims) / float(n - c)


# -- shapes ------------------------------------------------------------------------------
def reshape(x: Tensor, *shape) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    try:
        out = x.data.reshape(shape)
    except ValueError as e:
        raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) "
                         f"into {tuple(shape)}") from e
    # dL/dx = g reshaped back
    return Tensor.from_op(out, (x,), lambda g: (g.reshape(x.shape),), "reshape")


def permute(x: Tensor, *axes) -> Tensor:
    axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    axes = tuple(axes) if axes else tuple(reversed(range(x.ndim)))
    if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} axes of {x.shape}")
    inverse = np.argsort([a % x.ndim for a in axes])
    # dL/dx = g with the inverse permutation
    return Tensor.from_op(x.data.transpose(axes), (x,),
                          lambda g: (g.transpose(inverse),), "permute")


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    # dL/dx = g with the same two axes swapped back
    return Tensor.from_op(np.swapaxes(x.data, axis1, axis2), (x,),
                          lambda g: (np.swapaxes(g, axis1, axis2),), "swapaxes")


def transpose(x: Tensor, *axes) -> Tensor:
    """Reverse the axes, or permute them as given (NumPy's `transpose`)."""
    return permute(x, *axes)


def _index_part(i):
    """A part of an index as NumPy takes it: a Tensor's array; ints and slices as they are."""
    return i.data if isinstance(i, Tensor) else i


def getitem(x: Tensor, index) -> Tensor:
    index = tuple(map(_index_part, index)) if isinstance(index, tuple) else _index_part(index)
    try:
        out = x.data[index]
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} is out of range "
                         f"for shape {x.shape}: {e}") from e
    advanced = any(isinstance(i, (np.ndarray, list)) for i in
                   (index if isinstance(index, tuple) else (index,)))

    # dL/dx = g scattered back to the indexed places (added up where an index repeats)
    def backward(g):
        return (Scatter(index, g, repeats=advanced),)

    return Tensor.from_op(np.array(out, copy=advanced) if advanced else out, (x,),
                          backward, "getitem")


def concatenate(tensors, axis: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError as e:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}") from e
    cuts = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    # dL/dx_i = the slice of g that x_i filled
    return Tensor.from_op(out, tuple(tensors), lambda g: tuple(np.split(g, cuts, axis=axis)),
                          "concatenate")


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    out = np.stack([t.data for t in tensors], axis=axis)
    # dL/dx_i = g[..., i, ...] along the new axis
    return Tensor.from_op(out, tuple(tensors),
                          lambda g: tuple(np.moveaxis(g, axis, 0)), "stack")


def split(x: Tensor, sections, axis: int = 0) -> list[Tensor]:
    """NumPy's `split`: an int (equal parts) or a list of cut points; each part is a slice."""
    axis = axis % x.ndim
    n = x.shape[axis]
    if isinstance(sections, int):
        if n % sections:
            raise ValueError(f"split: axis {axis} of {x.shape} does not divide "
                             f"into {sections} parts")
        sections = list(range(n // sections, n, n // sections))
    edges = [0, *sections, n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(edges[:-1], edges[1:])]


def _along_axis(x: Tensor, indices, axis: int, grid: tuple, op: str) -> Tensor:
    """x[i_0, ..., indices[i_0, ..., i_k, ...], ...]: `indices` replaces position i_axis.

    Built as one integer-array index, so `getitem` does the work and its backward is the
    scatter-add: dL/dx[..., j, ...] = sum of g where indices == j (repeats add up)."""
    idx = as_array(indices)
    if idx.dtype.kind not in "iu" or idx.ndim != x.ndim:
        raise ValueError(f"{op}: indices must be integers with as many axes as x {x.shape}, "
                         f"got {idx.dtype} {idx.shape}")
    axis = axis % x.ndim
    index = tuple(idx if d == axis else
                  np.arange(n).reshape([-1 if e == d else 1 for e in range(x.ndim)])
                  for d, n in enumerate(grid))
    return getitem(x, index)


def take_along_axis(x: Tensor, indices, axis: int) -> Tensor:
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along `axis` (np.take_along_axis).

    `indices` broadcasts against x on the other axes.  x [..., N, ...], indices [..., K, ...]
    -> [..., K, ...]"""
    grid = [1 if d == axis % x.ndim else n for d, n in enumerate(x.shape)]
    try:
        grid = np.broadcast_shapes(tuple(grid), np.shape(np.asarray(indices)))
    except ValueError as e:
        raise ValueError(f"take_along_axis: indices {np.shape(indices)} do not broadcast "
                         f"against x {x.shape} outside axis {axis}") from e
    return _along_axis(x, indices, axis, grid, "take_along_axis")


def gather(x: Tensor, axis: int, index) -> Tensor:
    """out[i][j][k] = x[index[i][j][k]][j][k] for axis 0, ... (torch.gather; out has index's
    shape, which may be smaller than x's on the other axes)."""
    index_shape = np.shape(as_array(index))
    if len(index_shape) != x.ndim or any(
            m > n for d, (m, n) in enumerate(zip(index_shape, x.shape)) if d != axis % x.ndim):
        raise ValueError(f"gather: index {index_shape} must have the axes of x {x.shape} and "
                         f"be no larger on every axis but {axis}")
    return _along_axis(x, index, axis, index_shape, "gather")


# -- operators on Tensor -----------------------------------------------------------------
def _install() -> None:
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda self, other: add(other, self)
    T.__sub__ = sub
    T.__rsub__ = lambda self, other: sub(other, self)
    T.__mul__ = mul
    T.__rmul__ = lambda self, other: mul(other, self)
    T.__truediv__ = div
    T.__rtruediv__ = lambda self, other: div(other, self)
    T.__pow__ = power
    T.__rpow__ = lambda self, other: power(other, self)
    T.__neg__ = neg
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda self, other: matmul(other, self)
    T.__getitem__ = getitem
    for f in (exp, log, sqrt, tanh, relu, mean, reshape, permute, swapaxes, transpose):
        setattr(T, f.__name__, f)
    # the methods keep NumPy's names; the functions are named so as not to shadow sum() and max()
    T.sum, T.max = reduce_sum, reduce_max
    T.T = property(lambda self: permute(self))
    # added with the LLaMA ops: torch's method names (x.abs(), x.min(), x.gather(axis, index))
    for f in (sigmoid, clamp, var, gather):
        setattr(T, f.__name__, f)
    T.abs = T.__abs__ = absolute
    T.min = reduce_min


_install()
