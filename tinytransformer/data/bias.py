"""Reported speech for a controlled bias experiment (§9.3): which pronoun, 他 or 她?

    the nurse said she reads books.    -> 护士说她看书。   explicit: the English decides
    the nurse said they read books.    -> 护士说她看书。   ambiguous: singular "they"

Chinese writes "he" and "she" differently (他, 她); English singular "they" does not say which.
In an ambiguous pair the Chinese pronoun is drawn with probability `p_he[job]` of 他, so the
only clue a translator has is the occupation: exactly the situation in which a model can learn,
and then exaggerate, a stereotype. In these corpora "they" after "said" always means one person.

Every English sentence of a corpus is distinct, so loaders that drop duplicate pairs
(`load_tsv`) keep the drawn proportions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .tokenize import tokenize_en
from .toy import MAX_EN_WORDS, _sample_clause, check_bias, render
from .toy_lexicon import OCCUPATIONS, SUBJECTS

JOBS = tuple(OCCUPATIONS)


@dataclass(frozen=True)
class Reported:
    en: str  # "the nurse said they read books."
    zh: str  # "护士说她看书。"
    job: str  # "nurse"
    pronoun: str  # the English pronoun: "he", "she" or "they"


def _clause(rng: random.Random):
    """A present-tense statement or negation whose subject is "he" (swapped in later); as in
    the toy corpus, "the <job> said ..." has at most MAX_EN_WORDS tokens."""
    while True:
        c = _sample_clause(rng, SUBJECTS["he"], {"statement": 0.7, "negation": 0.3}, report=True)
        longest = max(JOBS, key=lambda job: len(OCCUPATIONS[job].en.split()))
        if len(tokenize_en(render(c, OCCUPATIONS[longest])[0])) <= MAX_EN_WORDS:
            return c


def reported(clause, job: str, chinese: str, english: str) -> Reported:
    """One pair: English subject `english` (he/she/they), Chinese pronoun for `chinese` (he/she)."""
    en, _ = render(replace(clause, subject=SUBJECTS[english]), OCCUPATIONS[job])
    _, zh = render(replace(clause, subject=SUBJECTS[chinese]), OCCUPATIONS[job])
    return Reported(en, zh, job, english)


def bias_corpus(n: int, seed: int = 0, p_he: Mapping[str, float] | None = None,
                ambiguous_share: float = 0.5, jobs: Sequence[str] = JOBS) -> list[Reported]:
    """n reported-speech pairs with distinct English, the same for the same seed.

    Each pair: an occupation drawn uniformly from `jobs`, 他 with probability p_he[job]
    (0.5 if absent), and English "they" with probability `ambiguous_share`, else he/she.
    """
    check_bias(p_he)
    if not 0.0 <= ambiguous_share <= 1.0:
        raise ValueError(f"bias_corpus: ambiguous_share={ambiguous_share} is not in [0, 1]")
    rng, out, seen = random.Random(f"bias:{seed}"), [], set()
    for _ in range(50 * n + 1000):
        if len(out) == n:
            return out
        job = rng.choice(list(jobs))
        chinese = "he" if rng.random() < (p_he or {}).get(job, 0.5) else "she"
        english = "they" if rng.random() < ambiguous_share else chinese
        pair = reported(_clause(rng), job, chinese, english)
        if pair.en not in seen:
            seen.add(pair.en)
            out.append(pair)
    raise ValueError(f"bias_corpus: found only {len(out)} distinct sentences, wanted {n}")


def swap_gender(r: Reported) -> Reported:
    """The same pair with the other gender: 他 <-> 她 after "<job>说", and he <-> she in English
    ("they" stays). Only the speaker's pronoun changes; 他的 inside the clause does not."""
    head, en_head = OCCUPATIONS[r.job].zh + "说", f"the {r.job} said "
    pronoun = {"他": "她", "她": "他"}[r.zh[len(head)]]
    english = {"he": "she", "she": "he", "they": "they"}[r.pronoun]
    return Reported(en_head + english + r.en[len(en_head) + len(r.pronoun):],
                    head + pronoun + r.zh[len(head) + 1:], r.job, english)


def probe_clauses(n: int, seed: int = 0, avoid: Sequence[str] = ()) -> list:
    """n distinct clauses that, said by any job with any pronoun, make no sentence of `avoid`."""
    rng, out, seen, avoid = random.Random(f"probe:{seed}"), [], set(), set(avoid)
    for _ in range(100 * n + 1000):
        if len(out) == n:
            return out
        c = _clause(rng)
        sentences = {reported(c, job, "he", english).en
                     for job in JOBS for english in ("he", "she", "they")}
        key = reported(c, JOBS[0], "he", "they").en
        if key not in seen and not sentences & avoid:
            seen.add(key)
            out.append(c)
    raise ValueError(f"probe_clauses: found only {len(out)} new clauses, wanted {n}")


def pronoun_in(zh: str, job: str) -> str:
    """The pronoun a translation gives the speaker: "he" (他), "she" (她), "they" (他们) or "other".

    Reads the characters right after "<job>说", e.g. 护士说她…… -> "she".
    """
    head = OCCUPATIONS[job].zh + "说"
    rest = zh[len(head):] if zh.startswith(head) else ""
    if rest.startswith("他们") or rest.startswith("她们"):
        return "they"
    return {"他": "he", "她": "she"}.get(rest[:1], "other")
