"""FastLlama, the inference-only Llama: equal to the autograd `Llama` in float64 (full forward,
KV cache step by step, long prompts in chunks, the last position only), unchanged by an
interrupted forward, and read from GGUF files with float32 and 4-bit weights. Runs once per
kernel backend."""

import numpy as np
import pytest

from tinytransformer.models import Llama, LlamaConfig, llama_fast
from tinytransformer.models.llama_fast import FastLlama
from tinytransformer.nn import KVCache, inference

from .tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.usefixtures("backend")

# GQA (4 query heads, 2 key/value heads), inner sizes multiples of 32 (GGUF's blocks)
CONFIG = dict(vocab_size=50, d_model=64, num_layers=2, num_heads=4, num_kv_heads=2, d_ff=96,
              rope_theta=1000.0, max_len=40)


def tiny(dtype="float64", seed=0) -> Llama:
    """A random Llama whose norms are not all ones (so that a missing norm weight shows)."""
    model = Llama(LlamaConfig(**CONFIG, dtype=dtype, seed=seed))
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if "norm" in name:
            p.data = (1 + 0.3 * rng.standard_normal(p.shape)).astype(p.dtype)
    return model


def reference_logits(model, ids):
    with inference(model):
        return model(ids).data


def test_equals_llama_in_float64():
    model, ids = tiny(), np.random.default_rng(1).integers(0, 50, (2, 9))
    fast = FastLlama.from_llama(model)
    np.testing.assert_allclose(fast(ids), reference_logits(model, ids), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast(ids, last_only=True), reference_logits(model, ids)[:, -1:],
                               rtol=0, atol=1e-12)


def test_cache_step_by_step_and_chunks_equal_one_forward(monkeypatch):
    """Prefill 5, then one token at a time past the cache's first room (256 is reached by
    max_len 300); and a prompt longer than CHUNK, run in chunks."""
    model = Llama(LlamaConfig(**{**CONFIG, "max_len": 300}, dtype="float64"))
    fast, ids = FastLlama.from_llama(model), np.random.default_rng(2).integers(0, 50, (1, 270))
    full = fast(ids)
    cache = KVCache()
    steps = [fast(ids[:, :5], cache)] + [fast(ids[:, t:t + 1], cache) for t in range(5, 270)]
    assert cache.offset == 270
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-12)
    monkeypatch.setattr(llama_fast, "CHUNK", 7)
    np.testing.assert_allclose(fast(ids[:, :40]), full[:, :40], atol=1e-12)
    np.testing.assert_allclose(fast(ids[:, :40], last_only=True), full[:, 39:40], atol=1e-12)


def test_an_interrupted_forward_leaves_the_cache_usable(monkeypatch):
    """Ctrl-C in the middle of a step (here: in the second layer): the cache still holds the
    positions before the step, and the next forward gives what it would have."""
    fast, ids = FastLlama.from_llama(tiny()), np.random.default_rng(3).integers(0, 50, (1, 8))
    full, cache = fast(ids), KVCache()
    fast(ids[:, :6], cache)
    block = FastLlama._block
    calls = []

    def interrupted(self, w, *args):
        calls.append(w)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return block(self, w, *args)

    monkeypatch.setattr(FastLlama, "_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fast(ids[:, 6:7], cache)
    monkeypatch.setattr(FastLlama, "_block", block)
    assert cache.offset == 6
    np.testing.assert_allclose(fast(ids[:, 6:], cache), full[:, 6:], atol=1e-12)


def test_context_overflow_is_refused():
    fast, cache = FastLlama.from_llama(tiny()), KVCache()
    fast(np.zeros((1, 38), np.int64), cache)
    with pytest.raises(ValueError, match="38 cached \\+ 3 new positions exceed the model's "
                                         "context of 40 tokens"):
        fast(np.zeros((1, 3), np.int64), cache)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    """The same tiny model written twice: float32 tensors, and SmolLM2's Q4_1 / Q8_0."""
    folder, model = tmp_path_factory.mktemp("gguf"), tiny("float32", seed=4)
    model.config.rms_eps = float(np.float32(model.config.rms_eps))  # GGUF stores a float32
    write_tiny_gguf(folder / "f32.gguf", model)
    write_tiny_gguf(folder / "q4.gguf", model, quantize=True)
    return model, folder


@pytest.mark.parametrize("weights", ["float32", "q4"])
def test_from_gguf_equals_llama_from_gguf(tiny_files, weights):
    """Both read the file's de-quantised weights; the 4-bit blocks' products keep float32
    precision (kernels/quant.py), float64 equals Llama in float64."""
    _, folder = tiny_files
    ids = np.random.default_rng(5).integers(0, 50, (2, 12))
    for name in ("f32.gguf", "q4.gguf"):
        ref = reference_logits(Llama.from_gguf(folder / name), ids)
        fast, cache = FastLlama.from_gguf(folder / name, weights), KVCache()
        ours = fast(ids)  # 24 rows: de-quantise + BLAS on the numba backend
        fast(ids[:, :11], cache)
        step = fast(ids[:, 11:], cache)  # 2 rows: the 4-bit kernels multiply the blocks
        assert ours.dtype == step.dtype == np.float32
        for got, want in ((ours, ref), (step, ref[:, 11:])):
            assert np.abs(got - want).max() <= 1e-5 * (ref.max() - ref.min()), name
        exact = reference_logits(Llama.from_gguf(folder / name, dtype="float64"), ids)
        np.testing.assert_allclose(FastLlama.from_gguf(folder / name, "float64")(ids), exact,
                                   rtol=0, atol=1e-12)


def test_q4_keeps_the_blocks(tiny_files):
    _, folder = tiny_files
    q4, f32 = (FastLlama.from_gguf(folder / "q4.gguf", w) for w in ("q4", "float32"))
    assert "GGUF blocks" in repr(q4) and q4.nbytes < f32.nbytes / 3
    with pytest.raises(ValueError, match="weights must be one of"):
        FastLlama.from_gguf(folder / "q4.gguf", "int8")
