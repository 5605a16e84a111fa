"""Train / valid / test splits of the toy corpus that hold out whole combinations.

The test set asks for composition, not memory: "read" and "magazine" both occur in training,
"read ... magazine" only in test. See `toy_splits` for the rule.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping

from .toy import ToyExample, check_bias, sample_example
from .toy_lexicon import PEOPLE, PLACES, VERBS


def held_out(seed: int = 0, share: float = 0.1) -> dict[str, frozenset[tuple[str, str, str]]]:
    """The combinations that only valid or only test sentences contain, chosen by `seed`.

    Each of valid and test gets `share` of all (verb, object) pairs and of all (subject, place)
    pairs, picked so that every verb, object, subject and place still occurs in training with
    some other partner: the model has seen "read" and "magazine", never "read a magazine".
    """
    rng = random.Random(f"held-out:{seed}")
    pairs = {
        "verb-object": [(v.en, o) for v in VERBS.values() for o in v.objects],
        "subject-place": [(s.en, p) for s in PEOPLE for p in PLACES],
    }
    out = {"valid": set(), "test": set()}
    for kind, candidates in pairs.items():
        rng.shuffle(candidates)
        left = [Counter(c[side] for c in candidates) for side in (0, 1)]
        for split in ("test", "valid"):
            chosen = 0
            for a, b in candidates:
                if chosen < share * len(candidates) and left[0][a] > 2 and left[1][b] > 1:
                    left[0][a], left[1][b] = left[0][a] - 1, left[1][b] - 1
                    out[split].add((kind, a, b))
                    chosen += 1
            candidates = [c for c in candidates if (kind, *c) not in out[split]]
    return {split: frozenset(combos) for split, combos in out.items()}


def _distinct(n: int, rng: random.Random, keep: Callable[[frozenset], bool],
              he_she_bias: Mapping[str, float] | None, split: str) -> list[ToyExample]:
    """n examples with distinct English that `keep` accepts."""
    seen: dict[str, ToyExample] = {}
    for _ in range(100 * n + 1000):
        if len(seen) == n:
            return list(seen.values())
        e = sample_example(rng, he_she_bias)
        if keep(e.combos) and e.en not in seen:
            seen[e.en] = e
    raise ValueError(f"toy_splits: found only {len(seen)} distinct {split} sentences, "
                     f"wanted {n}; ask for fewer")


def toy_split_examples(seed: int = 0, n_train: int = 20_000, n_valid: int = 500,
                       n_test: int = 500, he_she_bias: Mapping[str, float] | None = None,
                       ) -> dict[str, list[ToyExample]]:
    """Like `toy_splits`, with each example's combinations, to check the held-out rule."""
    check_bias(he_she_bias)
    held = held_out(seed)
    banned = held["valid"] | held["test"]
    rules = {
        "train": (n_train, lambda combos: not combos & banned),
        "valid": (n_valid, lambda combos: bool(combos & held["valid"])
                  and not combos & held["test"]),
        "test": (n_test, lambda combos: bool(combos & held["test"])),
    }
    return {split: _distinct(n, random.Random(f"{split}:{seed}"), keep, he_she_bias, split)
            for split, (n, keep) in rules.items()}


def toy_splits(seed: int = 0, n_train: int = 20_000, n_valid: int = 500, n_test: int = 500,
               he_she_bias: Mapping[str, float] | None = None,
               ) -> dict[str, list[tuple[str, str]]]:
    """{"train", "valid", "test"} -> distinct (english, chinese) pairs, the same for the same seed.

    Held-out rule: `held_out(seed)` sets aside 10 % of the (verb, object) pairs and 10 % of the
    (subject, place) pairs for test only, and as many others for valid only. A test sentence
    contains at least one test-only combination; a valid sentence at least one valid-only one
    and no test-only one; a training sentence none of either. So no test (or valid) sentence
    occurs in training, and the test set measures composition: "read" and "magazine" were both
    seen, "read ... magazine" never.
    """
    return {split: [(e.en, e.zh) for e in examples]
            for split, examples in toy_split_examples(seed, n_train, n_valid, n_test,
                                                      he_she_bias).items()}
