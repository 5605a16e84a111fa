"""HSK sentences: 4,354 graded Chinese sentences with English translations and word glosses.

They come from the PyPI package hsk-sentences-audio 1.0.0 (code MIT, data CC-BY-SA-4.0), an
optional extra (`pip install -e .[hsk]`); nothing of it is copied into this repository. Each
record has an HSK level (1 = beginner .. 6), a topic, the Chinese sentence, its English
translation, and the sentence's Chinese words with their CC-CEDICT English glosses:

    {"id": "hsk1-0001", "level": 1, "topic": "greetings", "en": "Hello, teacher!",
     "zh": "老师，您好！", "words": [("老师", "teacher"), ("您", "you (courteous, ...)"), ...]}

`hsk_splits` holds out valid and test sentences in the same proportion from every (level,
topic) cell, so each level and topic is as present in test as in train; per-level scores
(`by_level`) then compare like with like.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from .documents import held_out_size
from .tokenize import tokenize_en
from .tsv import DataError

LEVELS = (1, 2, 3, 4, 5, 6)
INSTALL = "pip install 'hsk-sentences-audio==1.0.0' (or pip install -e '.[hsk]')"


def hsk_level(value) -> int:
    """A value check: an HSK level, 1 to 6."""
    n = int(value) if str(value).strip().isdigit() else -1
    if n not in LEVELS:
        raise ValueError(f"must be an HSK level, 1 to 6, got {value!r}")
    return n


def hsk_file() -> Path:
    """The package's sentences.json (what a run fingerprints and remembers as its data)."""
    try:
        import hsk_sentences_audio
    except ImportError:
        raise DataError(f"--data hsk needs the package hsk-sentences-audio: {INSTALL}") from None
    return Path(hsk_sentences_audio.__file__).parent / "data" / "sentences.json"


def is_hsk(data: str | None) -> bool:
    """--data hsk, or the file it stands for once a run has resolved it."""
    return data == "hsk" or (data is not None and Path(data).parts[-3:] == (
        "hsk_sentences_audio", "data", "sentences.json"))


def load_hsk() -> list[dict]:
    """Every record, in the package's order; a sentence whose Chinese repeats an earlier one
    is dropped, so that no test sentence can also be a training sentence."""
    out, seen = [], set()
    for r in json.loads(hsk_file().read_text(encoding="utf-8")):
        if r["chinese"] in seen:
            continue
        seen.add(r["chinese"])
        out.append({"id": r["id"], "level": r["hsk_level"], "topic": r["topic"],
                    "en": r["translation"]["en"], "zh": r["chinese"],
                    "words": [(t["word"], t["gloss_en"]) for t in r["tokens"]]})
    return out


def hsk_splits(records: list[dict], n_valid: int, n_test: int, seed: int = 0) -> dict:
    """{"train", "valid", "test"}: lists of records, each (level, topic) cell held out in the
    same proportion (largest remainders make the totals exact); each part in package order."""
    cells = defaultdict(list)
    for i, r in enumerate(records):
        cells[r["level"], r["topic"]].append(i)
    rng = random.Random(seed)
    part = {"train": [], "valid": [], "test": []}
    quotas = {name: _quotas(cells, n, len(records)) for name, n in (("test", n_test),
                                                                      ("valid", n_valid))}
    for key in sorted(cells):
        idx = cells[key][:]
        rng.shuffle(idx)
        k_test, k_valid = quotas["test"][key], quotas["valid"][key]
        part["test"] += idx[:k_test]
        part["valid"] += idx[k_test:k_test + k_valid]
        part["train"] += idx[k_test + k_valid:]
    return {name: [records[i] for i in sorted(idx)] for name, idx in part.items()}


def _quotas(cells: dict, n: int, total: int) -> dict:
    """n spread over the cells in proportion to their sizes, the remainder to the largest
    fractional parts (Hamilton's method)."""
    exact = {key: n * len(idx) / total for key, idx in cells.items()}
    quota = {key: int(x) for key, x in exact.items()}
    by_remainder = sorted(cells, key=lambda key: (quota[key] - exact[key], key))
    for key in by_remainder[: n - sum(quota.values())]:
        quota[key] += 1
    return quota


def hsk_corpus_splits(cfg) -> tuple[dict, dict]:
    """For `load_corpus`: ({split: [(english, chinese), ...]}, {split: [record, ...]}), pairs of
    at most `cfg.max_words` English tokens; by default 5 % valid and 10 % test."""
    records = [r for r in load_hsk() if len(tokenize_en(r["en"])) <= cfg.max_words]
    n_valid = cfg.valid_size or held_out_size(len(records))
    n_test = cfg.test_size or 2 * held_out_size(len(records))
    if n_valid + n_test >= len(records):
        raise DataError(f"HSK: {len(records)} pairs of at most {cfg.max_words} English words, "
                        f"too few to hold out {n_valid} + {n_test}")
    parts = hsk_splits(records, n_valid, n_test, cfg.seed)
    return {k: [(r["en"], r["zh"]) for r in v] for k, v in parts.items()}, parts


def by_level(records: list[dict], values: list) -> dict[int, list]:
    """{level: the values of the records of that level}, levels in order."""
    out = defaultdict(list)
    for r, v in zip(records, values, strict=True):
        out[r["level"]].append(v)
    return dict(sorted(out.items()))
