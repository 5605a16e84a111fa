"""generate: temperature softmax, sampling the next token, and continuing a prompt with a
language model (with and without the key/value cache). Runs once per kernel backend."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytransformer.generate import generate, sample_next, temperature_softmax
from tinytransformer.models import LanguageModel, LanguageModelConfig

pytestmark = pytest.mark.usefixtures("backend")

LOGITS = hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 6)),
                    elements=st.floats(-20, 20))


def softmax_np(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@given(z=LOGITS, tau=st.floats(0.05, 20))
def test_temperature_softmax_is_softmax_of_z_over_tau(z, tau):
    np.testing.assert_allclose(temperature_softmax(z, tau), softmax_np(z / tau), rtol=1e-12)


def test_temperature_sharpens_and_flattens():
    z = np.array([[2.0, 1.0, 0.0]])
    assert temperature_softmax(z, 0.01)[0, 0] > 0.999
    np.testing.assert_allclose(temperature_softmax(z, 1e4), 1 / 3, atol=1e-3)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        temperature_softmax(z, 0.0)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_sample_frequencies_follow_p_tau(tau):
    z = np.array([1.0, 0.0, -1.0, 0.5])
    rng = np.random.default_rng(0)
    draws = sample_next(np.tile(z, (40_000, 1)), tau, rng)
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, temperature_softmax(z, tau), atol=0.01)


@given(z=LOGITS)
def test_zero_temperature_and_top_1_are_argmax(z):
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(sample_next(z, 0.0, rng), z.argmax(-1))
    if (np.sort(z, -1)[:, -1] > np.sort(z, -1)[:, -2]).all():  # no ties for first place
        np.testing.assert_array_equal(sample_next(z, 1.0, rng, top_k=1), z.argmax(-1))


def tiny_lm(max_len=16):
    cfg = LanguageModelConfig(vocab_size=9, d_model=8, num_heads=2, d_ff=16, num_layers=2,
                              dropout=0.0, max_len=max_len, dtype="float64", seed=3)
    return LanguageModel(cfg)


@pytest.mark.parametrize("tau", [0.0, 0.7, 1.5])
def test_cache_does_not_change_the_samples(tau):
    lm, prompt = tiny_lm(), [[2, 5], [2, 7]]
    a = generate(lm, prompt, 10, tau, rng=np.random.default_rng(1), use_cache=True)
    b = generate(lm, prompt, 10, tau, rng=np.random.default_rng(1), use_cache=False)
    assert a == b and all(len(row) == 10 for row in a)


def test_greedy_generation_is_argmax_step_by_step():
    lm, ys = tiny_lm(), np.array([[2, 4]])
    out = generate(lm, ys, 6, temperature=0.0)
    for _ in range(6):
        ys = np.concatenate([ys, lm(ys).data[:, -1].argmax(-1)[:, None]], axis=1)
    assert out == [ys[0, 2:].tolist()]


def test_stops_at_eos_and_at_max_len():
    lm = tiny_lm(max_len=6)
    eos = generate(lm, [[2]], 5, temperature=0.0)[0][0]  # the first greedy token, used as <eos>
    assert generate(lm, [[2]], 5, temperature=0.0, eos_id=eos) == [[]]
    assert len(generate(lm, [[2, 3]], 50, temperature=1.0, rng=np.random.default_rng(0))[0]) == 4
