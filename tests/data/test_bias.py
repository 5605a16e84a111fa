"""tinytransformer.data.bias: reported speech with a controlled he/she ratio (chapter 13)."""

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer.data import tokenize_en
from tinytransformer.data.bias import (
    JOBS,
    _clause,
    bias_corpus,
    probe_clauses,
    pronoun_in,
    reported,
    swap_gender,
)
from tinytransformer.data.toy import MAX_EN_WORDS
from tinytransformer.data.toy_lexicon import OCCUPATIONS

from ..strategies import seeds


@given(seed=seeds, job=st.sampled_from(JOBS))
def test_three_english_forms_of_one_clause(seed, job):
    c = _clause(random.Random(seed))
    he, she, they = (reported(c, job, "he", e) for e in ("he", "she", "they"))
    assert he.en.startswith(f"the {job} said he ") and she.en.startswith(f"the {job} said she ")
    assert they.en.startswith(f"the {job} said they ")
    assert he.zh == she.zh == they.zh  # the Chinese follows `chinese`, not the English
    assert he.zh.startswith(OCCUPATIONS[job].zh + "说他")
    assert len(tokenize_en(he.en)) <= MAX_EN_WORDS
    # "they" takes the plural verb: he reads / they read, he does not / they do not
    he_verb, they_verb = he.en.split()[4], they.en.split()[4]
    assert he_verb.endswith("s") and they_verb != he_verb, (he.en, they.en)


@pytest.mark.parametrize("zh, job, expected", [
    ("护士说她看书。", "nurse", "she"),
    ("护士说他不喜欢猫。", "nurse", "he"),
    ("医生说他们看书。", "doctor", "they"),
    ("医生说她们看书。", "doctor", "they"),
    ("医生说我看书。", "doctor", "other"),
    ("护士说她看书。", "doctor", "other"),  # the wrong job: no pronoun after 医生说
    ("", "pilot", "other"),
])
def test_pronoun_in(zh, job, expected):
    assert pronoun_in(zh, job) == expected


@pytest.mark.parametrize("p_he, job, low, high", [
    ({"nurse": 0.1}, "nurse", 0.03, 0.2),
    ({"doctor": 0.9}, "doctor", 0.8, 0.97),
    ({}, "pilot", 0.35, 0.65),
])
def test_ratio_is_drawn_per_job(p_he, job, low, high):
    pairs = [r for r in bias_corpus(3000, seed=0, p_he=p_he) if r.job == job]
    share = sum(pronoun_in(r.zh, job) == "he" for r in pairs) / len(pairs)
    assert low < share < high, share


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_ambiguous_share(share):
    counts = Counter(r.pronoun for r in bias_corpus(1000, seed=1, ambiguous_share=share))
    assert abs(counts["they"] / 1000 - share) < 0.06


def test_explicit_pairs_agree():
    for r in bias_corpus(500, seed=2, p_he={"nurse": 0.1}):
        if r.pronoun != "they":
            assert pronoun_in(r.zh, r.job) == r.pronoun


def test_corpus_is_distinct_and_deterministic():
    a = bias_corpus(800, seed=3)
    assert len({r.en for r in a}) == 800
    assert bias_corpus(800, seed=3) == a and bias_corpus(800, seed=4) != a


def test_jobs_argument():
    assert {r.job for r in bias_corpus(200, jobs=["nurse", "pilot"])} == {"nurse", "pilot"}


@pytest.mark.parametrize("kwargs, message", [
    ({"p_he": {"astronaut": 0.5}}, "unknown occupation"),
    ({"p_he": {"nurse": 1.5}}, "not a probability"),
    ({"ambiguous_share": -0.1}, "ambiguous_share"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bias_corpus(10, **kwargs)


def test_probe_clauses_are_new():
    corpus = bias_corpus(2000, seed=0)
    seen = {r.en for r in corpus}
    clauses = probe_clauses(30, seed=0, avoid=sorted(seen))
    assert len(clauses) == 30
    for c in clauses:
        for job in JOBS:
            for english in ("he", "she", "they"):
                assert reported(c, job, "he", english).en not in seen
    keys = {reported(c, "nurse", "he", "they").en for c in clauses}
    assert len(keys) == 30


@given(seed=seeds)
def test_swap_gender(seed):
    for r in bias_corpus(20, seed=seed, p_he={"nurse": 0.1}):
        s = swap_gender(r)
        assert {pronoun_in(r.zh, r.job), pronoun_in(s.zh, s.job)} == {"he", "she"}
        assert s.job == r.job and swap_gender(s) == r
        assert s.zh[len(OCCUPATIONS[r.job].zh) + 2:] == r.zh[len(OCCUPATIONS[r.job].zh) + 2:]
        if r.pronoun == "they":
            assert s.en == r.en and s.pronoun == "they"
        else:
            assert s.en == r.en.replace(f" said {r.pronoun} ", f" said {s.pronoun} ", 1)
            assert pronoun_in(s.zh, s.job) == s.pronoun
