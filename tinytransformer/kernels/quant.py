"""Weights kept in GGUF's quantised blocks, and the products that read them.

    y = x W^T,   W [R, K] stored as blocks of 32 weights:  Q4_1 w = d q + m (q 4-bit),
                                                            Q8_0 w = d q     (q 8-bit)

SmolLM2's GGUF holds its 210 projection matrices in Q4_1 (20 bytes per 32 weights, 5 bits a
weight) and the embedding, which is also the LM head, in Q8_0 (34 bytes, 8.5 bits). Kept that
way, the weights take 96 MB in the file, 112 MB in memory (d and m widened to float32),
instead of 538 MB in float32.

Which product is faster was measured, and depends on the number of rows N of x:
- N small (decoding: one token): each weight is read once per token, so the time is memory
  traffic plus de-quantising. The Numba kernels (quant_fast.py) multiply the blocks directly,
  reading 5 bits a weight instead of float32's 32: the 210 Q4_1 products of one token took
  46.6 ms against 86.6 ms for BLAS's float32 matrix-vector products (one thread, interleaved;
  `tinytransformer bench llm` measures whole tokens). Each extra row costs a whole pass, so
  the kernels stop at SMALL_N rows.
- N large (a prompt): the product is compute-bound, and BLAS's blocked float32 matmul beat
  every compiled loop tried, by 6x and more at 16 rows; de-quantising each matrix into a
  temporary float32 array first costs about a tenth of a 256-token prompt. So above `SMALL_N`
  rows the Numba backend de-quantises and calls BLAS.
The NumPy backend always de-quantises then calls BLAS (quant_reference.py, the twins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import get_backend
from . import quant_reference as reference

SMALL_N = 4  # rows of x up to which the Numba backend multiplies the blocks directly
KINDS = {"Q4_1": 16, "Q8_0": 32}  # kind -> bytes of q per block


@dataclass(frozen=True)
class QuantizedMatrix:
    """W [R, K] as GGUF blocks: d (and m, Q4_1 only) [R, NB] float32, qs [R, NB, 16] uint8 for
    Q4_1 (two 4-bit q per byte) or [R, NB, 32] int8 for Q8_0; NB = K / 32."""

    kind: str
    d: np.ndarray
    m: np.ndarray | None
    qs: np.ndarray

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"QuantizedMatrix: kind {self.kind!r} is not one of {list(KINDS)}")
        want = (*self.d.shape, KINDS[self.kind])
        if self.qs.shape != want or (self.kind == "Q4_1") != (self.m is not None):
            raise ValueError(f"QuantizedMatrix({self.kind}): qs {self.qs.shape} and d "
                             f"{self.d.shape} do not fit [R, NB, {KINDS[self.kind]}], [R, NB]")

    @classmethod
    def from_blocks(cls, blocks: np.ndarray, kind: str) -> QuantizedMatrix:
        """From GGUFFile.blocks(name) (a structured view [R, NB]); copies into plain arrays."""
        m = blocks["m"].astype(np.float32) if kind == "Q4_1" else None
        return cls(kind, blocks["d"].astype(np.float32), m, np.ascontiguousarray(blocks["qs"]))

    @classmethod
    def quantize_q4_1(cls, w: np.ndarray) -> QuantizedMatrix:
        """W [R, K] (K a multiple of 32) rounded to Q4_1 blocks as llama.cpp rounds them."""
        return cls("Q4_1", *reference.quantize_q4_1(w))

    @property
    def shape(self) -> tuple[int, int]:
        return self.d.shape[0], self.d.shape[1] * 32

    @property
    def nbytes(self) -> int:
        return self.d.nbytes + self.qs.nbytes + (0 if self.m is None else self.m.nbytes)

    def take_rows(self, rows) -> QuantizedMatrix:
        """The matrix with rows W[rows] (a permutation or a selection of rows)."""
        m = None if self.m is None else self.m[rows]
        return QuantizedMatrix(self.kind, self.d[rows], m, self.qs[rows])

    @staticmethod
    def stack(mats: list[QuantizedMatrix]) -> QuantizedMatrix:
        """[W_1; W_2; ...]: rows one after the other (one product instead of several)."""
        kinds = {w.kind for w in mats}
        if len(kinds) != 1 or len({w.shape[1] for w in mats}) != 1:
            raise ValueError(f"QuantizedMatrix.stack: needs one kind and one K, got "
                             f"{[(w.kind, w.shape) for w in mats]}")
        m = None if mats[0].m is None else np.concatenate([w.m for w in mats])
        return QuantizedMatrix(mats[0].kind, np.concatenate([w.d for w in mats]), m,
                               np.concatenate([w.qs for w in mats]))

    def rows(self, ids, dtype=np.float32) -> np.ndarray:
        """W[ids] de-quantised (an embedding lookup).  ids [...] -> [..., K]"""
        ids = np.asarray(ids)
        part = self.take_rows(ids.reshape(-1))
        return dequantize(part, dtype, reference).reshape(*ids.shape, self.shape[1])


def _impl():
    """The active backend's twin: quant_reference (NumPy) or quant_fast (Numba)."""
    if get_backend() == "numpy":
        return reference
    from . import quant_fast

    return quant_fast


def dequantize(w: QuantizedMatrix, dtype=np.float32, impl=None) -> np.ndarray:
    """W [R, K] as an array of `dtype`, on the active kernel backend (float64: NumPy's)."""
    impl = impl or (_impl() if np.dtype(dtype) == np.float32 else reference)
    if w.kind == "Q4_1":
        return impl.dequantize_q4_1(w.d, w.m, w.qs, dtype)
    return impl.dequantize_q8_0(w.d, w.qs, dtype)


def quantized_linear(x: np.ndarray, w: QuantizedMatrix) -> np.ndarray:
    """y = x W^T with W in blocks.  x [..., K] float32 or float64, W [R, K] -> y [..., R]"""
    R, K = w.shape
    if x.shape[-1] != K or x.dtype not in (np.float32, np.float64):
        raise ValueError(f"quantized_linear: x {x.shape} {x.dtype} needs a float last axis of "
                         f"{K} for W [{R}, {K}] ({w.kind})")
    x2 = x.reshape(-1, K)  # [N, K]
    impl = _impl()
    if impl is reference or x2.shape[0] > SMALL_N or x.dtype != np.float32:
        y = x2 @ dequantize(w, x.dtype).T  # [N, K] @ [K, R]: BLAS
    elif w.kind == "Q4_1":
        y = impl.q4_1_matmul(x2, w.d, w.m, w.qs)
    else:
        y = impl.q8_0_matmul(x2, w.d, w.qs)
    return y.reshape(*x.shape[:-1], R)
