"""tinytransformer.data.summaries: passages with known summaries and keywords (chapter 9)."""

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer.data import tokenize_en
from tinytransformer.data.summaries import (
    ACTIONS,
    CITIES,
    JOBS,
    NAMES,
    WHEN,
    Passage,
    held_out_pairs,
    passages,
    sample_passage,
    summary_splits,
)

from ..strategies import seeds

SMALL = {"n_train": 300, "n_valid": 40, "n_test": 40}
SUMMARY = re.compile(rf"^(\w+) the (\w+) ({'|'.join(ACTIONS)}) (an? (?:\w+ )?(\w+)) "
                     rf"({'|'.join(WHEN)})\.$")


def sentences(p: Passage) -> list[str]:
    return [s.strip() for s in p.text.split(".") if s.strip()]


def parts(p: Passage) -> dict:
    m = SUMMARY.match(p.summary)
    assert m, f"summary does not follow the template: {p.summary!r}"
    name, job, action, obj, noun, when = m.groups()
    return {"name": name, "job": job, "action": action, "obj": obj, "noun": noun, "when": when}


# ---- one passage: each row is (what must hold, check(passage)) ---------------------------------

def _event(p: Passage) -> list[str]:
    a = parts(p)
    return [s for s in sentences(p) if f" {a['action']} {a['obj']}" in f" {s}"]


PROPERTIES = [
    ("2 to 4 sentences", lambda p: 2 <= len(sentences(p)) <= 4),
    ("every sentence ends with a period", lambda p: p.text.endswith(".")
     and p.text.count(".") == len(sentences(p))),
    ("lower case", lambda p: p.text == p.text.lower() and p.summary == p.summary.lower()),
    ("summary follows the template", lambda p: SUMMARY.match(p.summary) is not None),
    ("first sentence introduces the person as their job",
     lambda p: re.fullmatch(rf"{p.name} (is|works as) an? {p.job} (from|in) \w+",
                            sentences(p)[0]) is not None),
    ("exactly one sentence holds the event", lambda p: len(_event(p)) == 1),
    ("the event's time is in its sentence", lambda p: parts(p)["when"] in _event(p)[0]),
    ("the event's subject is the name's pronoun",
     lambda p: re.search(rf"\b{NAMES[p.name]} {parts(p)['action']}\b", _event(p)[0]) is not None),
    ("no other pronoun", lambda p: not re.search(rf"\b{'she' if NAMES[p.name] == 'he' else 'he'}\b",
                                                  p.text)),
    ("keywords are name, job, action, noun",
     lambda p: p.keywords.split() == [p.name, p.job, parts(p)["action"], parts(p)["noun"]]),
    ("every keyword occurs in the passage",
     lambda p: all(w in tokenize_en(p.text) for w in p.keywords.split())),
    ("a distractor object is never the event's object",
     lambda p: all(f" {parts(p)['noun']}." not in f" {s}." for s in sentences(p) if "wanted" in s)),
    ("a second city is never the person's city",
     lambda p: all(sentences(p)[0].split()[-1] not in s for s in sentences(p)[1:])),
    ("summary is shorter than the passage",
     lambda p: len(tokenize_en(p.summary)) < len(tokenize_en(p.text))),
]


@pytest.mark.parametrize("name, holds", PROPERTIES, ids=[r[0] for r in PROPERTIES])
@given(seed=seeds)
def test_passage_property(name, holds, seed):
    p = sample_passage(random.Random(seed))
    assert holds(p), f"{name}: {p}"


@given(seed=seeds, name=st.sampled_from(sorted(NAMES)), job=st.sampled_from(JOBS))
def test_given_name_and_job_are_used(seed, name, job):
    p = sample_passage(random.Random(seed), name, job)
    assert (p.name, p.job) == (name, job)
    assert p.summary.startswith(f"{name} the {job} ")


def test_lexicon_is_known():
    assert {"he", "she"} == set(NAMES.values())
    assert len(set(CITIES)) == len(CITIES) and len(JOBS) == 15
    assert "wanted" not in ACTIONS  # the distractor verb must never be the event


# ---- many passages: determinism and splits ------------------------------------------------------

@given(seed=seeds)
def test_passages_are_deterministic(seed):
    assert passages(20, seed) == passages(20, seed)


def test_seeds_differ():
    assert passages(20, 0) != passages(20, 1)


def test_the_task_varies():
    ps = passages(2000, 0)
    assert {len(sentences(p)) for p in ps} == {2, 3, 4}
    assert {p.text.split(". ")[1].split()[0] in NAMES.values() for p in ps} == {True, False}
    assert len({parts(p)["action"] for p in ps}) == len(ACTIONS)
    first = {sentences(p)[0].split()[1] for p in ps}
    assert first == {"is", "works"}


def test_held_out_pairs():
    held = held_out_pairs(0)
    assert len(held["test"]) == len(held["valid"]) == 30
    assert not held["test"] & held["valid"]
    train = {(n, j) for n in NAMES for j in JOBS} - held["test"] - held["valid"]
    assert {n for n, _ in train} == set(NAMES) and {j for _, j in train} == set(JOBS)
    assert held_out_pairs(0) == held and held_out_pairs(1) != held


@pytest.fixture(scope="module")
def splits():
    return summary_splits(seed=0, **SMALL)


def test_split_sizes_and_determinism(splits):
    assert {k: len(v) for k, v in splits.items()} == {"train": 300, "valid": 40, "test": 40}
    assert summary_splits(seed=0, **SMALL) == splits


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_texts_distinct_within_and_across(splits, split):
    texts = [p.text for p in splits[split]]
    assert len(set(texts)) == len(texts)
    others = {p.text for s, ps in splits.items() if s != split for p in ps}
    assert not set(texts) & others


@pytest.mark.parametrize("split", ["valid", "test"])
def test_held_out_pairs_rule(splits, split):
    held = held_out_pairs(0)
    assert all((p.name, p.job) in held[split] for p in splits[split])
    assert not any((p.name, p.job) in held["valid"] | held["test"] for p in splits["train"])


@pytest.mark.parametrize("kwargs, message", [
    ({"n_train": -1}, "n_train=-1"),
    ({"n_test": -5}, "n_test=-5"),
])
def test_split_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        summary_splits(**{**SMALL, **kwargs})


def test_too_few_distinct_passages(monkeypatch):
    """A generator that can only say one thing cannot fill a split: the error says so."""
    from tinytransformer.data import summaries

    one = sample_passage(random.Random(0))
    monkeypatch.setattr(summaries, "sample_passage", lambda rng, name=None, job=None: one)
    with pytest.raises(ValueError, match="found only 1 distinct train passages, wanted 2"):
        summary_splits(n_train=2, n_valid=0, n_test=0)
