"""generate: temperature softmax, sampling the next token, and continuing a prompt with a
language model (with and without the key/value cache). Runs once per kernel backend."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytransformer.generate import (
    generate,
    next_token_probs,
    repetition_penalty,
    sample_next,
    temperature_softmax,
)
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


# -- the logits processors, against Hugging Face's on the same logits ---------------------------

def hf_processors():
    return pytest.importorskip("transformers.generation.logits_process")


def hf(processor, logits, ids=None):
    torch = pytest.importorskip("torch")
    ids = torch.zeros((len(logits), 1), dtype=torch.long) if ids is None else torch.tensor(ids)
    return processor(ids, torch.tensor(logits)).numpy()


def hf_probs(scores):
    e = np.exp(scores - scores.max(-1, keepdims=True))  # exp(-inf) = 0: the filtered tokens
    return e / e.sum(-1, keepdims=True)


@given(seed=st.integers(0, 2**16), penalty=st.sampled_from([0.5, 1.0, 1.3, 2.0]))
def test_repetition_penalty_equals_hugging_faces(seed, penalty):
    lp = hf_processors()
    rng = np.random.default_rng(seed)
    logits, seen = rng.standard_normal((3, 20)) * 3, rng.integers(0, 20, (3, 12))  # repeats too
    expected = hf(lp.RepetitionPenaltyLogitsProcessor(penalty), logits, seen)
    np.testing.assert_allclose(repetition_penalty(logits, seen, penalty), expected, rtol=1e-15)


@given(seed=st.integers(0, 2**16), tau=st.sampled_from([0.3, 1.0, 1.7]),
       top_k=st.sampled_from([None, 1, 5, 40]), top_p=st.sampled_from([None, 0.2, 0.9, 1.0]))
def test_temperature_top_k_top_p_equal_hugging_faces(seed, tau, top_k, top_p):
    """The distribution drawn from, against transformers' warpers in generate's order."""
    lp = hf_processors()
    logits = np.random.default_rng(seed).standard_normal((2, 40)) * 4  # no ties, almost surely
    scores = hf(lp.TemperatureLogitsWarper(tau), logits)
    if top_k is not None:
        scores = hf(lp.TopKLogitsWarper(top_k), scores)
    if top_p is not None:
        scores = hf(lp.TopPLogitsWarper(top_p), scores)
    np.testing.assert_allclose(next_token_probs(logits, tau, top_k, top_p), hf_probs(scores),
                               rtol=1e-12, atol=1e-15)


def test_repetition_penalty_in_generate_changes_greedy_repeats():
    """Greedy with a huge penalty never repeats a token of the prompt or of its own output."""
    lm, prompt = tiny_lm(max_len=12), [[2, 5]]
    out = generate(lm, prompt, 7, temperature=0.0, penalty=1e9)[0]
    assert len(set(out) | {2, 5}) == len(out) + 2
    with pytest.raises(ValueError, match="penalty must be > 0"):
        repetition_penalty(np.zeros((1, 3)), [[0]], 0.0)
