"""Training byte-level BPE fast: the same merges as `learn_merges`, without recounting.

Recounting every pair each round costs (merges x text). But a merge of (a, b) into z only
changes the pieces that contain a, b, so we keep
    counts[(a, b)]   the weighted pair counts of `count_pairs`, updated in place
    where[(a, b)]    the pieces that contain (a, b), or did once
    heap             (-count, a, b) entries: the top is the most frequent pair, ties the
                     smallest (a, b), exactly `best_pair`'s order
and on each merge change only the counts of the pairs beside each merged place.

The heap is lazy: a count that falls leaves its old entry behind. A popped entry whose count is
no longer true is pushed back with the true count (pairs that do not contain the new token only
ever lose counts, so the true maximum is never below the top entry). Pairs with the new token
only gain counts during a merge, and are pushed once it is done.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from .bpe_train import Word


def learn_merges_fast(words: dict[Word, int], num_merges: int, min_count: int = 2,
                      first_id: int = 256) -> list[tuple[int, int]]:
    """Same contract and same result as `bpe_train.learn_merges`."""
    pieces, freqs = [list(w) for w in words], list(words.values())
    counts, where = defaultdict(int), defaultdict(set)
    for k, (piece, n) in enumerate(zip(pieces, freqs)):
        for pair in zip(piece, piece[1:]):
            counts[pair] += n
            where[pair].add(k)
    heap = [(-n, *pair) for pair, n in counts.items()]
    heapq.heapify(heap)
    merges = []
    for new_id in range(first_id, first_id + num_merges):
        pair = _pop_best(heap, counts)
        if pair is None or counts[pair] < min_count:
            break
        for new_pair in _apply(pair, new_id, pieces, freqs, counts, where):
            heapq.heappush(heap, (-counts[new_pair], *new_pair))
        merges.append(pair)
    return merges


def _pop_best(heap: list, counts: dict) -> tuple[int, int] | None:
    """The most frequent pair (smallest (a, b) among equals), skipping stale heap entries."""
    while heap:
        neg, a, b = heap[0]
        true = counts.get((a, b), 0)
        if true == -neg:
            return a, b
        heapq.heappop(heap)
        if true > 0:  # the count fell since this entry was pushed: file it again
            heapq.heappush(heap, (-true, a, b))
    return None


def _apply(pair, new_id: int, pieces: list, freqs: list, counts: dict, where: dict) -> set:
    """Merge `pair` into `new_id` in every piece that has it; return the pairs with new_id.

    Only the pairs beside a merged place change: (x, a) and (b, y) lose n = the piece's count,
    (x, z) and (z, y) gain n; "a b a b" -> "z z" loses (b, a) once and gains (z, z) once.
    `where` is lazy: a piece stays listed under a pair it lost, and is skipped when its turn
    comes (no occurrence found).
    """
    a, b = pair
    created = set()
    for k in where.pop(pair):
        old = pieces[k]
        starts = _occurrences(old, a, b)
        if not starts:
            continue
        new, n, prev = _merged(old, starts, new_id), freqs[k], -2
        for m, s in enumerate(starts):
            q, joined = s - m, s == prev + 2  # q: where z sits in `new`
            if s > 0 and not joined:
                _lose(counts, (old[s - 1], a), n)
                _gain(counts, where, created, (new[q - 1], new_id), n, k)
            if s + 2 < len(old):
                _lose(counts, (b, old[s + 2]), n)
                _gain(counts, where, created, (new_id, new[q + 1]), n, k)
            prev = s
        pieces[k] = new
    counts.pop(pair, None)  # every (a, b) is gone
    return created


def _lose(counts: dict, p: tuple, n: int) -> None:
    left = counts[p] - n
    if left:
        counts[p] = left
    else:
        del counts[p]


def _gain(counts: dict, where: dict, created: set, p: tuple, n: int, k: int) -> None:
    counts[p] += n
    where[p].add(k)
    created.add(p)


def _occurrences(piece: list, a: int, b: int) -> list[int]:
    """Start positions of (a, b), left to right, not overlapping (as `merge_word` merges)."""
    starts, i, last = [], 0, len(piece) - 1
    while True:
        try:
            i = piece.index(a, i)  # jump to the next `a` at C speed
        except ValueError:
            return starts
        if i < last and piece[i + 1] == b:
            starts.append(i)
            i += 2
        else:
            i += 1


def _merged(piece: list, starts: list[int], new_id: int) -> list:
    out, prev = [], 0
    for s in starts:
        out += piece[prev:s]
        out.append(new_id)
        prev = s + 2
    return out + piece[prev:]
