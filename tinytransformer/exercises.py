"""The book's exercise checks: a reader's answer against the expected one, with the reason.

Every chapter ends with exercises as stubs: a cell the reader fills in, and a check cell below
it that calls `check`. An unfilled stub returns `None` (or `...`), and `check` says it is not
attempted yet instead of failing, so a chapter still runs from top to bottom. The solutions
(`notebooks/solutions/`) call the same checks and assert that each one says right.

    check(answer, expected)                 # numbers, arrays, strings, lists: equal (to rtol)
    check(answer, lambda a: "why" or None)  # any property: the function returns why it is wrong
"""

import numpy as np

NOT_ATTEMPTED = "not attempted yet: fill in the cell above, run it, then run this one again"


def check(answer, expected, *, rtol=1e-7, atol=0.0, name="answer"):
    """Print whether `answer` is right and why not; return True, False, or None (not attempted).

    `expected` is a value (compared with `np.allclose` for numbers and arrays, `==` otherwise)
    or a function of the answer that returns the reason it is wrong, or None when it is right.
    """
    if answer is None or answer is Ellipsis:
        print(f"{name}: {NOT_ATTEMPTED}")
        return None
    why = expected(answer) if callable(expected) else _differs(answer, expected, rtol, atol)
    print(f"{name}: right" if why is None else f"{name}: wrong, {why}")
    return why is None


def _differs(answer, expected, rtol, atol):
    """Why `answer` is not `expected`, or None when it is (within rtol/atol for numbers)."""
    if isinstance(expected, (str, bytes, bool, type(None), dict, set)):
        return None if answer == expected else f"got {answer!r}, expected {expected!r}"
    if isinstance(expected, (list, tuple)) and any(isinstance(e, str) for e in expected):
        return None if list(answer) == list(expected) else f"got {answer!r}, expected {expected!r}"
    a, e = np.asarray(getattr(answer, "data", answer)), np.asarray(expected)
    if a.shape != e.shape:
        return f"shape {a.shape}, expected {e.shape}"
    if not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
        return f"got values of type {a.dtype}, expected numbers"
    if np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return None
    if a.ndim == 0:
        return f"got {a.item():.6g}, expected {e.item():.6g}"
    err = np.abs(a.astype(float) - e.astype(float))
    where = np.unravel_index(np.nanargmax(err), err.shape)
    return (f"largest difference {err[where]:.3g} at index {tuple(map(int, where))} "
            f"(got {a[where]:.6g}, expected {e[where]:.6g})")
