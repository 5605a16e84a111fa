"""Gradient checking: does backward agree with finite differences of forward?

Two checks, both in float64 on the scalar L = <v, f(x)> for a random v:

- element-wise: dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps), for every element
  of every input (or a random sample of `max_elements` of them);
- directional: <u, dL/dx> ~ (L(x + eps u) - L(x - eps u)) / (2 eps) for random directions u
  over all inputs at once (the vector-Jacobian product against a numeric Jacobian-vector one).

    >>> report = gradcheck(lambda x, w: (x @ w).tanh(), x, w)
    >>> report.passed, report.max_rel_error
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tensor import Tensor, no_grad


@dataclass
class Check:
    name: str  # "input 0" or "direction 1"
    shape: tuple
    checked: int  # elements compared
    max_abs_error: float
    max_rel_error: float  # max |analytic - numeric| / max |numeric| over what was checked
    worst_index: tuple | None


@dataclass
class GradcheckReport:
    checks: list[Check] = field(default_factory=list)
    rtol: float = 1e-6

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.checks), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_rel_error <= self.rtol

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        header = f"{'what':<12} {'shape':<16} {'checked':>8} {'abs err':>10} {'rel err':>10}"
        lines = [f"gradcheck {verdict}: max relative error {self.max_rel_error:.2e} "
                 f"(tolerance {self.rtol:.0e}), max absolute error {self.max_abs_error:.2e}",
                 f"  {header}  worst at"]
        for c in self.checks:
            lines.append(f"  {c.name:<12} {str(c.shape):<16} {c.checked:>8} "
                         f"{c.max_abs_error:>10.2e} {c.max_rel_error:>10.2e}  {c.worst_index}")
        return "\n".join(lines)


def _as_input(x) -> Tensor:
    """Floating inputs become float64 Tensors that require grad; others pass through."""
    if isinstance(x, Tensor):
        if x.dtype.kind == "f" and x.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs, got a {x.dtype} Tensor: finite "
                            "differences in float32 are too coarse (pass a float64 copy)")
        if x.dtype.kind == "f":
            x.requires_grad = True
            x.data = np.ascontiguousarray(x.data)  # so finite differences can nudge it in place
        return x
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    return Tensor(x)


def _compare(name, shape, analytic, numeric, flat_index=None) -> Check:
    """Errors of `analytic` against `numeric`; `flat_index` maps them to places in `shape`."""
    err = np.abs(analytic - numeric)
    if not err.size:
        return Check(name, shape, 0, 0.0, 0.0, None)
    worst = int(np.argmax(err))
    scale = max(float(np.max(np.abs(numeric))), 1e-12)
    where = None if flat_index is None else tuple(
        int(j) for j in np.unravel_index(flat_index[worst], shape))
    return Check(name, shape, err.size, float(err[worst]), float(err[worst]) / scale, where)


def gradcheck(f, *inputs, eps: float = 1e-6, rtol: float = 1e-6, max_elements: int = 2000,
              directions: int = 2, seed: int = 0, raise_on_fail: bool = False) -> GradcheckReport:
    """Compare the gradients of `f(*inputs)` with central finite differences, in float64.

    `f` maps Tensors to a Tensor and must be deterministic (no dropout). Floating inputs
    are checked (NumPy arrays are copied to float64; Tensors must already be float64, and
    may be a module's parameters). Inputs with more than `max_elements` elements are
    checked on a random sample. Returns a report; with `raise_on_fail=True` a failure
    raises AssertionError carrying the report.
    """
    rng = np.random.default_rng(seed)
    tensors = [_as_input(x) for x in inputs]
    wrt = [t for t in tensors if t.requires_grad]
    out = f(*tensors)
    v = rng.standard_normal(out.shape)

    def loss() -> float:
        with no_grad():
            return float(np.sum(f(*tensors).data * v))

    for t in wrt:
        t.grad = None
    out.backward(v)
    grads = [t.grad if t.grad is not None else np.zeros(t.shape) for t in wrt]

    report = GradcheckReport(rtol=rtol)
    for i, (t, g) in enumerate(zip(wrt, grads)):
        n = t.data.size
        idx = np.arange(n) if n <= max_elements else np.sort(
            rng.choice(n, max_elements, replace=False))
        numeric = np.array([_nudge(t, j, eps, loss) for j in idx])
        report.checks.append(_compare(f"input {i}", t.shape, g.reshape(-1)[idx], numeric, idx))
    for d in range(directions):
        u = [rng.standard_normal(t.shape) for t in wrt]
        analytic = sum(float(np.sum(ui * gi)) for ui, gi in zip(u, grads))
        numeric = _directional(wrt, u, eps, loss)
        report.checks.append(_compare(f"direction {d}", "all inputs", np.array([analytic]),
                                      np.array([numeric])))
    if raise_on_fail and not report.passed:
        raise AssertionError(repr(report))
    return report


def _nudge(t: Tensor, j: int, eps: float, loss) -> float:
    """(L(x + eps e_j) - L(x - eps e_j)) / (2 eps), restoring x afterwards."""
    flat = t.data.reshape(-1)  # a view: t.data is a contiguous float64 array
    old = flat[j]
    flat[j] = old + eps
    up = loss()
    flat[j] = old - eps
    down = loss()
    flat[j] = old
    return (up - down) / (2 * eps)


def _directional(wrt, u, eps: float, loss) -> float:
    saved = [t.data.copy() for t in wrt]
    for t, ui, s in zip(wrt, u, saved):
        t.data[...] = s + eps * ui
    up = loss()
    for t, ui, s in zip(wrt, u, saved):
        t.data[...] = s - eps * ui
    down = loss()
    for t, s in zip(wrt, saved):
        t.data[...] = s
    return (up - down) / (2 * eps)
