"""Short passages about one person, each with a known reference summary and keywords (§6.2).

    passage   anna is a nurse from rome. she often visits paris. last week she bought a red
              bike. she wanted a black hat.
    summary   anna the nurse bought a red bike last week.
    keywords  anna nurse bought bike

A passage has 2-4 sentences: who the person is (always, and before any "he"/"she"), the one
thing that happened (an action from ACTIONS, with an object and a past time), and up to two
distractors: a second city, a second object ("she wanted a black hat"), a drink, pets, the
weather. The summary keeps who, what and when, and drops the rest, so writing it means
choosing, reordering ("last week she bought" -> "bought ... last week") and replacing the
pronoun by the name, not copying a prefix. Keywords are the four content words: name, job,
action, object noun.

Splits hold out (name, job) pairs: a test passage introduces, say, "anna the pilot", while
training saw anna and pilots, never together.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from .toy_lexicon import NOUNS, OCCUPATIONS, TIMES

NAMES = {  # name -> pronoun
    **dict.fromkeys("tom john jack david peter mike sam paul ben leo".split(), "he"),
    **dict.fromkeys("mary lucy anna emma kate lily sara amy rose nina".split(), "she"),
}
JOBS = tuple(OCCUPATIONS)  # doctor, nurse, teacher, ... (15)
CITIES = tuple("paris london rome berlin tokyo madrid cairo sydney boston toronto".split())
ACTIONS = tuple("bought sold lost found painted washed fixed borrowed".split())
OBJECTS = tuple("car bike pen bag hat shirt coat scarf umbrella chair table cup key phone "
                "computer".split())
WHEN = tuple(w.en for w in TIMES["past"])  # yesterday, last week, ...
DRINKS = ("tea", "coffee", "milk", "juice")
PETS = ("cats", "dogs", "birds", "rabbits")
WEATHER = ("cold", "warm", "rainy", "sunny")


@dataclass(frozen=True)
class Passage:
    text: str  # 2-4 sentences, lower case, each ending in "."
    summary: str  # one sentence: "<name> the <job> <action> <object> <when>."
    keywords: str  # "<name> <job> <action> <object noun>"
    name: str
    job: str


def _a(word: str) -> str:
    """'a pilot', 'an engineer'."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def _object(rng: random.Random, noun: str) -> str:
    """'a red bike', 'an old phone', 'a key': an adjective the lexicon allows, 70 % of the time."""
    adjectives = NOUNS[noun].adjectives
    if adjectives and rng.random() < 0.7:
        return _a(f"{rng.choice(adjectives)} {noun}")
    return _a(noun)


def _distractors(rng: random.Random, pron: str, city: str, noun: str) -> list[str]:
    """Sentences a summary should drop; none repeats the event's city or object."""
    other_city = rng.choice([c for c in CITIES if c != city])
    other_noun = rng.choice([o for o in OBJECTS if o != noun])
    return [f"{pron} often visits {other_city}.",
            f"{pron} wanted {_object(rng, other_noun)}.",
            f"{pron} likes {rng.choice(DRINKS)}.",
            f"{pron} has {rng.choice(['two', 'three', 'four'])} {rng.choice(PETS)}.",
            f"it was {rng.choice(WEATHER)} in {other_city}."]


def sample_passage(rng: random.Random, name: str | None = None,
                   job: str | None = None) -> Passage:
    """One passage with its summary and keywords; name and job drawn unless given."""
    name = name or rng.choice(list(NAMES))
    job = job or rng.choice(JOBS)
    pron, city = NAMES[name], rng.choice(CITIES)
    action, noun, when = rng.choice(ACTIONS), rng.choice(OBJECTS), rng.choice(WHEN)
    obj = _object(rng, noun)
    who = rng.choice([f"{name} is {_a(job)} from {city}.", f"{name} works as {_a(job)} in {city}."])
    what = rng.choice([f"{pron} {action} {obj} {when}.", f"{when} {pron} {action} {obj}."])
    rest = [what, *rng.sample(_distractors(rng, pron, city, noun), rng.randint(0, 2))]
    rng.shuffle(rest)
    return Passage(text=" ".join([who, *rest]), summary=f"{name} the {job} {action} {obj} {when}.",
                   keywords=f"{name} {job} {action} {noun}", name=name, job=job)


def passages(n: int, seed: int = 0) -> list[Passage]:
    """n independent passages (they may repeat), the same for the same seed."""
    rng = random.Random(f"passages:{seed}")
    return [sample_passage(rng) for _ in range(n)]


def held_out_pairs(seed: int = 0, share: float = 0.1) -> dict[str, frozenset[tuple[str, str]]]:
    """(name, job) pairs only valid or only test passages use, `share` of all pairs each.

    Every name and every job keeps partners in training, so a held-out pair is a new
    combination of known words.
    """
    rng = random.Random(f"summaries-held-out:{seed}")
    pairs = [(n, j) for n in NAMES for j in JOBS]
    rng.shuffle(pairs)
    left = [Counter(p[side] for p in pairs) for side in (0, 1)]
    out: dict[str, set] = {"test": set(), "valid": set()}
    for split in out:
        for name, job in pairs:
            taken = (name, job) in out["test"] or (name, job) in out["valid"]
            if len(out[split]) < share * len(pairs) and not taken and left[0][name] > 2 \
                    and left[1][job] > 2:
                left[0][name], left[1][job] = left[0][name] - 1, left[1][job] - 1
                out[split].add((name, job))
    return {split: frozenset(p) for split, p in out.items()}


def _distinct(rng: random.Random, n: int, pairs: list[tuple[str, str]], split: str,
              avoid: set[str]) -> list[Passage]:
    """n passages with distinct texts, not in `avoid`, whose (name, job) is one of `pairs`."""
    seen: dict[str, Passage] = {}
    for _ in range(20 * n + 100):
        if len(seen) == n:
            return list(seen.values())
        p = sample_passage(rng, *rng.choice(pairs))
        if p.text not in seen and p.text not in avoid:
            seen[p.text] = p
    raise ValueError(f"summary_splits: found only {len(seen)} distinct {split} passages, "
                     f"wanted {n}; ask for fewer")


def summary_splits(seed: int = 0, n_train: int = 4000, n_valid: int = 200,
                   n_test: int = 200) -> dict[str, list[Passage]]:
    """{"train", "valid", "test"} -> distinct passages, the same for the same seed.

    Train passages use (name, job) pairs outside `held_out_pairs(seed)`; valid and test
    passages use only their own held-out pairs. No passage text occurs in two splits.
    """
    for split, n in (("n_train", n_train), ("n_valid", n_valid), ("n_test", n_test)):
        if n < 0:
            raise ValueError(f"summary_splits: {split}={n} must be >= 0")
    held = held_out_pairs(seed)
    pools = {"train": [(n, j) for n in NAMES for j in JOBS
                       if (n, j) not in held["valid"] | held["test"]],
             "valid": sorted(held["valid"]), "test": sorted(held["test"])}
    out: dict[str, list[Passage]] = {}
    used: set[str] = set()
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        out[split] = _distinct(random.Random(f"summaries:{split}:{seed}"), n, pools[split],
                               split, used)
        used |= {p.text for p in out[split]}
    return out
