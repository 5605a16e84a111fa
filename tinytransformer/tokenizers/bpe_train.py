"""Training byte-level BPE (Sennrich et al. 2016, on bytes as in GPT-2), the readable way.

    1. cut the text into pieces (pretokenize.py) and count them:   {" the": 5210, "cat": 12, ...}
    2. spell each piece in bytes; ids 0..255 are the bytes:        " the" -> (32, 116, 104, 101)
    3. repeat num_merges times:
         count(a, b) = sum over pieces w of  count(w) * (number of times a, b are adjacent in w)
         (a, b) = the pair with the largest count; ties go to the smallest (a, b)
         give it the next id (256, 257, ...) and write that id for a, b in every piece,
         left to right (so "a a a" with (a, a) becomes "aa a")

Pieces never meet, so no token spans two pieces, and special tokens (cut out before step 1)
are never part of one. `learn_merges` below recounts every pair each round: easy to follow,
slow on big texts. `learn_merges_fast` (bpe_train_fast.py) updates the counts instead and gives
the same merges, tie for tie.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .bpe import BPETokenizer
from .formats import special_regex
from .pretokenize import compile_pattern

Word = tuple[int, ...]  # one piece, as token ids


def count_words(text: str, pattern: str = "gpt2", specials: Iterable[str] = ()) -> Counter:
    """Piece (as byte ids) -> how often it occurs; special tokens are cut out first."""
    split = compile_pattern(pattern)
    cut = special_regex({s: 0 for s in specials})
    parts = cut.split(text) if cut else [text]
    pieces = Counter(p for part in parts for p in split.findall(part))
    return Counter({tuple(p.encode("utf-8")): n for p, n in pieces.items()})


def count_pairs(words: dict[Word, int]) -> Counter:
    """(a, b) -> sum of count(w) over each place where a, b are adjacent in a piece w."""
    pairs = Counter()
    for word, n in words.items():
        for pair in zip(word, word[1:]):
            pairs[pair] += n
    return pairs


def merge_word(word: Word, pair: tuple[int, int], new_id: int) -> Word:
    """`word` with every (a, b) of `pair` replaced by `new_id`, scanning left to right."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def best_pair(pairs: Counter) -> tuple[int, int]:
    """The most frequent pair; among equals the smallest (a, b), so training is deterministic."""
    return max(pairs, key=lambda p: (pairs[p], -p[0], -p[1]))


def learn_merges(words: dict[Word, int], num_merges: int, min_count: int = 2,
                 first_id: int = 256) -> list[tuple[int, int]]:
    """The merges, in order: merge k makes token `first_id + k`. Stops early when no pair
    occurs `min_count` times (merging a pair seen once saves nothing)."""
    words, merges = dict(words), []
    for new_id in range(first_id, first_id + num_merges):
        pairs = count_pairs(words)
        if not pairs or pairs[best_pair(pairs)] < min_count:
            break
        pair = best_pair(pairs)
        words = {merge_word(w, pair, new_id): n for w, n in words.items()}
        merges.append(pair)
    return merges


def train_bpe(text: str, num_merges: int, pattern: str = "gpt2", specials: Iterable[str] = (),
              min_count: int = 2, fast: bool = True) -> BPETokenizer:
    """A byte-level BPE tokenizer learned on `text`: ids 0..255 are the bytes, then one id per
    merge, then the `specials` (e.g. "<|endoftext|>"), in order."""
    from .bpe_train_fast import learn_merges_fast

    specials = list(specials)
    words = count_words(text, pattern, specials)
    learn = learn_merges_fast if fast else learn_merges
    pairs = learn(words, num_merges, min_count)
    tokens = {b: bytes([b]) for b in range(256)}
    merges = []
    for new_id, (a, b) in enumerate(pairs, start=256):
        tokens[new_id] = tokens[a] + tokens[b]
        merges.append((a, b, new_id))
    first_special = 256 + len(merges)
    return BPETokenizer(tokens, merges, pattern,
                        {s: first_special + k for k, s in enumerate(specials)})
