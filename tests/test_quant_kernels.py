"""Quantised weights (kernels/quant*.py): every product and de-quantiser, on both backends,
against de-quantise-then-matmul in float64 written here from the formulas (w = d q + m,
w = d q), and the de-quantisers against PyPI's gguf (llama.cpp's own Python code).

Tolerances: a float32 product of K terms is compared with the float64 one relative to the
sum of |x_k w_k| (what the rounding errors scale with): 1e-5; de-quantised weights to one
float32 rounding (the Numba kernel fuses d q + m into one multiply-add)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer.kernels import quant_reference
from tinytransformer.kernels.quant import SMALL_N, QuantizedMatrix, dequantize, quantized_linear

pytestmark = pytest.mark.usefixtures("backend")

PRODUCT_TOL = 1e-5  # |ours - float64| / (|x| @ |W|^T), float32
BLOCK_DTYPES = {  # GGUF's block layouts, as pretrained/gguf.py reads them
    "Q4_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qs", "<u1", (16,))]),
    "Q8_0": np.dtype([("d", "<f2"), ("qs", "<i1", (32,))]),
}


def random_blocks(kind: str, R: int, NB: int, seed: int) -> np.ndarray:
    """Blocks [R, NB] with random float16 scales and random bytes (every nibble occurs)."""
    rng = np.random.default_rng(seed)
    b = np.zeros((R, NB), BLOCK_DTYPES[kind])
    b["d"] = (rng.standard_normal((R, NB)) * 0.02).astype(np.float16)
    if kind == "Q4_1":
        b["m"] = (rng.standard_normal((R, NB)) * 0.1).astype(np.float16)
        b["qs"] = rng.integers(0, 256, (R, NB, 16))
    else:
        b["qs"] = rng.integers(-128, 128, (R, NB, 32))
    return b


def float64_weights(blocks: np.ndarray, kind: str) -> np.ndarray:
    """W [R, NB * 32] in float64 from the formulas: byte j of a Q4_1 block holds q[j] in its
    low nibble and q[j + 16] in its high one."""
    d = blocks["d"].astype(np.float64)[..., None]
    if kind == "Q8_0":
        return (d * blocks["qs"]).reshape(len(blocks), -1)
    qs = blocks["qs"].astype(np.int64)
    q = np.concatenate([qs % 16, qs // 16], axis=-1)  # [R, NB, 32]
    return (d * q + blocks["m"].astype(np.float64)[..., None]).reshape(len(blocks), -1)


def assert_product_close(y, x, W64):
    """y vs x W^T in float64, relative to sum_k |x_k| |W_rk|."""
    x64 = x.astype(np.float64)
    err = np.abs(y - x64 @ W64.T) / (np.abs(x64) @ np.abs(W64).T)
    assert err.max() <= PRODUCT_TOL, f"max relative error {err.max():.2e}"


@given(kind=st.sampled_from(["Q4_1", "Q8_0"]), R=st.integers(1, 40), NB=st.integers(1, 6),
       N=st.integers(1, 2 * SMALL_N), seed=st.integers(0, 2**16))
def test_quantized_linear_equals_dequantize_then_matmul_in_float64(kind, R, NB, N, seed):
    """N <= SMALL_N rows take the Numba kernel on the numba backend, more rows de-quantise and
    call BLAS: both paths, both backends."""
    blocks = random_blocks(kind, R, NB, seed)
    w = QuantizedMatrix.from_blocks(blocks, kind)
    x = np.random.default_rng(seed + 1).standard_normal((N, NB * 32)).astype(np.float32)
    y = quantized_linear(x, w)
    assert y.dtype == np.float32 and y.shape == (N, R)
    assert_product_close(y, x, float64_weights(blocks, kind))


@pytest.mark.parametrize("kind", ["Q4_1", "Q8_0"])
@pytest.mark.parametrize("N", [1, 3], ids=["one row", "three rows"])
def test_each_twin_directly(kind, N):
    """The reference twin and the Numba twin called by name, on a matrix the size of SmolLM2's
    W_gate (1536 x 576), so that long sums are covered."""
    from tinytransformer.kernels import quant_fast

    blocks = random_blocks(kind, 1536, 18, seed=N)
    w, W64 = QuantizedMatrix.from_blocks(blocks, kind), float64_weights(blocks, kind)
    x = np.random.default_rng(7).standard_normal((N, 576)).astype(np.float32)
    for twin in (quant_reference, quant_fast):
        if kind == "Q4_1":
            y = twin.q4_1_matmul(x, w.d, w.m, w.qs)
            W = twin.dequantize_q4_1(w.d, w.m, w.qs)
        else:
            y = twin.q8_0_matmul(x, w.d, w.qs)
            W = twin.dequantize_q8_0(w.d, w.qs)
        assert_product_close(y, x, W64)
        assert W.dtype == np.float32
        np.testing.assert_allclose(W, W64, rtol=2**-23, atol=2**-24 * np.abs(W64).max())


@pytest.mark.parametrize("kind", ["Q4_1", "Q8_0"])
def test_dequantize_equals_gguf(kind):
    """Our de-quantiser against llama.cpp's Python package on the blocks' bytes."""
    gguf = pytest.importorskip("gguf")
    blocks = random_blocks(kind, 7, 3, seed=3)
    theirs = gguf.quants.dequantize(blocks.view(np.uint8).reshape(7, -1),
                                    getattr(gguf.GGMLQuantizationType, kind))
    ours = dequantize(QuantizedMatrix.from_blocks(blocks, kind))
    np.testing.assert_allclose(ours, theirs, rtol=2**-23, atol=2**-24 * np.abs(theirs).max())


def test_float64_input_gives_float64_products():
    blocks = random_blocks("Q4_1", 5, 2, seed=1)
    x = np.random.default_rng(2).standard_normal((1, 64))
    y = quantized_linear(x, QuantizedMatrix.from_blocks(blocks, "Q4_1"))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, x @ float64_weights(blocks, "Q4_1").T, rtol=1e-12)


def test_rows_stack_and_take_rows():
    """Embedding rows, stacked matrices and row permutations keep the formulas."""
    a, b = random_blocks("Q8_0", 6, 2, seed=4), random_blocks("Q8_0", 3, 2, seed=5)
    wa, wb = QuantizedMatrix.from_blocks(a, "Q8_0"), QuantizedMatrix.from_blocks(b, "Q8_0")
    ids = np.array([[5, 0, 5]])
    np.testing.assert_allclose(wa.rows(ids), float64_weights(a, "Q8_0")[ids], rtol=1e-7)
    both = QuantizedMatrix.stack([wa, wb])
    W64 = np.concatenate([float64_weights(a, "Q8_0"), float64_weights(b, "Q8_0")])
    np.testing.assert_allclose(dequantize(both), W64, rtol=1e-7)
    order = np.array([8, 0, 3, 1, 2, 4, 5, 6, 7])
    np.testing.assert_allclose(dequantize(both.take_rows(order)), W64[order], rtol=1e-7)
    assert both.shape == (9, 64) and both.nbytes == 9 * 2 * (4 + 32)


def test_errors_teach():
    w = QuantizedMatrix.from_blocks(random_blocks("Q4_1", 4, 2, seed=0), "Q4_1")
    with pytest.raises(ValueError, match=r"needs a float last axis of 64 for W \[4, 64\]"):
        quantized_linear(np.ones((1, 63), np.float32), w)
    with pytest.raises(ValueError, match="kind 'Q5_0' is not one of"):
        QuantizedMatrix("Q5_0", w.d, w.m, w.qs)
    with pytest.raises(ValueError, match="do not fit"):
        QuantizedMatrix("Q8_0", w.d, None, w.qs)
    with pytest.raises(ValueError, match="one kind and one K"):
        QuantizedMatrix.stack([w, QuantizedMatrix.from_blocks(random_blocks("Q8_0", 4, 2, 0),
                                                              "Q8_0")])



def test_quantize_q4_1_equals_gguf_and_its_error_is_half_a_step():
    """The same bytes as llama.cpp's Python quantiser; every weight within d / 2 of its
    de-quantised value (plus the float16 rounding of d and m)."""
    gguf = pytest.importorskip("gguf")
    w = np.random.default_rng(6).standard_normal((5, 96)).astype(np.float32)
    ours = QuantizedMatrix.quantize_q4_1(w)
    theirs = gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q4_1).view(BLOCK_DTYPES["Q4_1"])
    assert np.array_equal(ours.qs, theirs["qs"])
    assert np.array_equal(ours.d, theirs["d"].astype(np.float32))
    assert np.array_equal(ours.m, theirs["m"].astype(np.float32))
    step = np.repeat(ours.d, 32, axis=1)  # [R, K]: each weight's block step d
    assert (np.abs(dequantize(ours) - w) <= step / 2 + 1e-3 * np.abs(w).max()).all()


def test_blas_threads_can_be_set_while_running():
    from tinytransformer.kernels.blas_threads import get_blas_threads, set_blas_threads

    before = get_blas_threads()
    if before is None:
        pytest.skip("no OpenBLAS found in this process (another BLAS, or not Linux)")
    try:
        assert set_blas_threads(1) == before and get_blas_threads() == 1
        a = np.random.default_rng(0).standard_normal((64, 64))
        np.testing.assert_allclose(a @ a.T, np.einsum("ik,jk->ij", a, a), rtol=1e-12)
    finally:
        set_blas_threads(before)
    with pytest.raises(ValueError, match="n must be >= 1"):
        set_blas_threads(0)
