"""Dictionary word alignments for HSK pairs, and cross-attention heads scored against them.

How a link is made (silver, not gold: no person aligned these sentences). Each HSK record
lists its Chinese words with their CC-CEDICT glosses. A Chinese word is linked to an English
token of the translation when the token, lower-cased and stemmed, equals a content word of the
word's gloss, stemmed:

    gloss "to like; to be fond of"  -> senses "to like", "to be fond of" -> {"like", "fond"}
    "Kids imitate adults."  喜欢模仿: 模仿 "to imitate; to copy" -> 模仿 -- "imitate"

- parentheses, [pinyin] and senses that name no meaning ("surname ...", "see ...",
  "used in ...", "variant of ...", "abbr. for ...", "CL:...") are dropped;
- function words ("to", "the", "of", "sb", ...) are never content words;
- the stem cuts one of -ing, -ed, -s, -ly and then a final -e, when 3 letters remain (crude
  on purpose: "imitates" and "imitate" meet, "went" and "go" do not).
So links are precise but sparse: a word glossed differently from how it was translated, or
translated by a function word, gets none. A link joins every character of the Chinese word
(the translator's Chinese tokens) to the English token.

Scores, over the target tokens that have at least one link, for each head (l, h) of a
teacher-forced cross-attention A [T, S] (row t: the step that writes target token t):
    predicted link of row t = argmax_s A[t, s]
    AER = 1 - 2 |P ∩ G| / (|P| + |G|)       (Och & Ney 2003, with sure = possible = G)
    share = mean over rows of sum_{s linked to t} A[t, s]   (even spreading: |links| / S)
"""

from __future__ import annotations

import re

import numpy as np

from .tokenize import tokenize_en, tokenize_zh

_NO_MEANING = re.compile(r"^(surname|see |used in|variant of|old variant|abbr\.|cl:|also "
                         r"written|also pr\.|erhua variant)", re.IGNORECASE)
FUNCTION_WORDS = set("""to the a an of be is are was were sb sth one one's oneself and or in on
at for with by from as it its that this these those etc up out off into used do does not no
so very also have has had make get give take kind sort something someone somebody""".split())


def stem(word: str) -> str:
    """A crude stem: lower-case; one of -ing -ed -s -ly off, then a final -e, each only if 3+
    letters remain ("imitates", "imitated", "imitate" -> "imitat")."""
    word = word.lower()
    for suffix in ("ing", "ed", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def gloss_words(gloss: str) -> set[str]:
    """The stems of a gloss's content words (see the module's docstring)."""
    gloss = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", gloss)
    out = set()
    for sense in gloss.split(";"):
        sense = sense.strip()
        if not sense or _NO_MEANING.match(sense):
            continue
        out |= {stem(w) for w in tokenize_en(sense)
                if w.isalpha() and w not in FUNCTION_WORDS}
    return out


def _spans(text: str, parts: list[str]) -> list[tuple[int, int] | None]:
    """Character span of each part in `text`, searched left to right (None if not found)."""
    out, cursor = [], 0
    for part in parts:
        start = text.find(part, cursor)
        out.append(None if start < 0 else (start, start + len(part)))
        cursor = cursor if start < 0 else start + len(part)
    return out


def silver_links(zh: str, words: list[tuple[str, str]], en_tokens: list[str]) -> set:
    """{(i, j)}: Chinese token i (tokenize_zh of `zh`) linked to English token j of
    `en_tokens` (as the translator cut them, either case) through the glosses of `words`."""
    zh_tokens = tokenize_zh(zh)
    token_spans = _spans(zh, zh_tokens)
    en_stems = [stem(t) for t in en_tokens]
    links = set()
    for (_, gloss), span in zip(words, _spans(zh, [w for w, _ in words])):
        meaning = gloss_words(gloss)
        if span is None or not meaning:
            continue
        chars = [i for i, s in enumerate(token_spans) if s and s[0] < span[1] and span[0] < s[1]]
        links |= {(i, j) for i in chars for j, e in enumerate(en_stems) if e in meaning}
    return links


def head_scores(maps: list[np.ndarray], links: list[set]) -> dict:
    """AER and attention share of every head, and the even share, over the linked rows.

    maps: one [L, H, T, S] cross-attention per sentence (rows = target tokens, <eos> row
    last, ignored); links: one set of (target position, source position) per sentence."""
    L, H = maps[0].shape[:2]
    hits, predicted, gold = np.zeros((L, H)), 0, 0
    share, even, rows = np.zeros((L, H)), 0.0, 0
    for w, pairs in zip(maps, links):
        by_row: dict[int, list[int]] = {}
        for t, s in pairs:
            by_row.setdefault(t, []).append(s)
        for t, cols in by_row.items():
            if t >= w.shape[2]:
                continue
            best = w[:, :, t].argmax(-1)  # [L, H]
            hits += np.isin(best, cols)
            share += w[:, :, t, cols].sum(-1)
            even += len(cols) / w.shape[3]
            predicted, gold, rows = predicted + 1, gold + len(cols), rows + 1
    if rows == 0:
        raise ValueError("head_scores: no target token has a link: nothing to score")
    return {"aer": 1 - 2 * hits / (predicted + gold), "share": share / rows,
            "even": even / rows, "rows": rows, "links": gold}


def hsk_links(records: list[dict], sides) -> list[set]:
    """Per record, its silver links as (target position, source position) of a run whose
    sides are English words and Chinese characters, in either direction."""
    langs = tuple((side.lang, side.tokenizer) for side in sides)
    if langs not in ((("en", "words"), ("zh", "chars")), (("zh", "chars"), ("en", "words"))):
        raise ValueError(f"dictionary alignments join English words and Chinese characters; "
                         f"this run's sides are {langs}")
    en_side = sides[0] if langs[0][0] == "en" else sides[1]
    out = []
    for r in records:
        links = silver_links(r["zh"], r["words"], en_side.tokenize(r["en"]))
        out.append(links if langs[1][0] == "zh" else {(j, i) for i, j in links})
    return out
