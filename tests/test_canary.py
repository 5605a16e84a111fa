"""The canary test (tinytransformer.canary): candidates scored as whole strings, rank and exposure,
planting, and the trainer's refusal of a canary its vocabulary cannot spell."""

import itertools
import math

import numpy as np
import pytest

from tinytransformer.canary import (
    Canary,
    CanaryLMTrainer,
    candidate_index,
    candidate_log_probs,
    exposure,
    plant,
    prompt_ids,
    random_secret,
)
from tinytransformer.lm_train import LMTrainConfig
from tinytransformer.models import LanguageModel, LanguageModelConfig
from tinytransformer.nn import inference
from tinytransformer.tokenizers import CharTokenizer

ALPHABET = "abc"


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tok = CharTokenizer.train(["the secret is abc, cab, bca"])
    model = LanguageModel(LanguageModelConfig(vocab_size=tok.vocab_size, d_model=16, num_heads=2,
                                              d_ff=32, num_layers=1, dropout=0.0, max_len=32))
    return model, tok


def brute_force(model, tok, prefix, length):
    """log P(r | prefix) of each candidate from one forward pass over the whole string."""
    head, out = prompt_ids(tok, prefix), []
    for r in itertools.product(ALPHABET, repeat=length):
        ids = head + [tok.vocab.stoi[ch] for ch in r]
        with inference(model):
            z = model(np.array([ids])).data[0].astype(np.float64)  # [t, V]
        log_p = z - z.max(-1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
        out.append(sum(log_p[len(head) - 1 + i, ids[len(head) + i]] for i in range(length)))
    return np.array(out)


@pytest.mark.parametrize("length", [1, 2, 3])
def test_candidates_scored_as_whole_strings(model_and_tokenizer, length):
    model, tok = model_and_tokenizer
    ours = candidate_log_probs(model, tok, "the secret is ", ALPHABET, length, batch_size=4)
    np.testing.assert_allclose(ours, brute_force(model, tok, "the secret is ", length),
                               rtol=1e-5, atol=1e-5)
    assert np.exp(ours).sum() <= 1 + 1e-6  # a distribution over more strings than these


def test_candidate_index_is_itertools_order():
    strings = ["".join(r) for r in itertools.product(ALPHABET, repeat=3)]
    assert [candidate_index(s, ALPHABET) for s in strings] == list(range(len(strings)))


def test_rank_and_exposure():
    log_p = np.log([0.1, 0.4, 0.1, 0.4])
    assert exposure(log_p, 1) == (1, 2.0)  # a tie does not push the secret down
    assert exposure(log_p, 0) == (3, 2 - math.log2(3))
    assert exposure(np.log([0.5, 0.5]), 0) == (1, 1.0)


def test_plant_and_secret():
    docs = ["a", "b", "c"]
    planted = plant(docs, "X", 5, seed=0)
    assert planted.count("X") == 5 and [d for d in planted if d != "X"] == docs
    assert plant(docs, "X", 0, seed=0) == docs
    secret = random_secret("零一二三四五六七八九", 4, seed=3)
    assert len(secret) == 4 and secret == random_secret("零一二三四五六七八九", 4, seed=3)


def test_trainer_plants_in_training_split_only(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("\n\n".join(f"line {i} abc" for i in range(60)), encoding="utf-8")
    cfg = LMTrainConfig(data=str(text), context=8, batch_size=2, steps=1,
                        model=dict(d_model=8, num_heads=2, d_ff=16, num_layers=1))
    trainer = CanaryLMTrainer(cfg, tmp_path / "run", Canary("line ", "cab"), 3)
    docs = trainer.corpus.docs
    assert docs["train"].count("line cab") == 3
    assert "line cab" not in docs["valid"] + docs["test"]
    with pytest.raises(ValueError, match="not in the training text's vocabulary"):
        CanaryLMTrainer(cfg, tmp_path / "run2", Canary("line ", "xyz"), 3)
