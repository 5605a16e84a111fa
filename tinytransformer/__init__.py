"""tinytransformer: a from-scratch NumPy Transformer with its own autograd.

    >>> import tinytransformer as tt
    >>> x = tt.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)

Importing it raises glibc's malloc thresholds so freed arrays are reused rather than returned
to the kernel (about 20 % of a training step on a small machine; see `tinytransformer.memory`).
Set TINYTRANSFORMER_MALLOC=default (or 0, off, false) before importing to leave malloc alone.
"""

from . import memory, ops  # noqa: F401  (ops installs the operators on Tensor)
from .gradcheck import gradcheck
from .kernels import get_backend, set_backend
from .tensor import Tensor, detect_anomaly, no_grad, unbroadcast

__version__ = "0.1.0"

memory._on_import()  # keep freed arrays' pages for reuse (glibc only; see memory.py)

__all__ = [
    "Tensor", "no_grad", "detect_anomaly", "unbroadcast", "gradcheck",
    "set_backend", "get_backend", "__version__",
]
