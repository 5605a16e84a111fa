"""Batches of sentence pairs of similar length, padded into int64 arrays.

    source  x_1 .. x_m                    -> src      x_1 .. x_m <pad> ..
    target  y_1 .. y_n    (teacher forcing) tgt_in  = <bos> y_1 .. y_n <pad> ..
                                           tgt_out = y_1 .. y_n <eos> <pad> ..

The decoder reads tgt_in and is scored on tgt_out: at step t it has seen y_<t and must say y_t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .vocab import BOS_ID, EOS_ID, PAD_ID


@dataclass
class Batch:
    src: np.ndarray  # [B, S] int64, padded with pad_id
    tgt_in: np.ndarray  # [B, T] int64, <bos> + target
    tgt_out: np.ndarray  # [B, T] int64, target + <eos>
    index: np.ndarray  # [B] int64, each row's position in the lists given to make_batches
    n_src_tokens: int  # real (non-pad) tokens in src
    n_tgt_tokens: int  # real tokens in tgt_out, <eos> included: the loss's denominator

    def __len__(self) -> int:
        return len(self.index)


def pad(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> np.ndarray:
    """[B] lists of ids -> [B, L] int64, L the longest (at least 1), padded on the right."""
    out = np.full((len(seqs), max([1, *map(len, seqs)])), pad_id, dtype=np.int64)
    for row, seq in zip(out, seqs, strict=True):
        row[:len(seq)] = seq
    return out


def _cut(order: np.ndarray, cost: np.ndarray, batch_size: int | None,
         max_tokens: int | None) -> list[np.ndarray]:
    """Consecutive groups of `order`: batch_size rows each, or rows x longest <= max_tokens."""
    if batch_size is not None:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    groups, start, longest = [], 0, 0
    for i, k in enumerate(order):
        longest = max(longest, cost[k])
        if i > start and (i - start + 1) * longest > max_tokens:
            groups.append(order[start:i])
            start, longest = i, cost[k]
    return [*groups, order[start:]] if len(order) else groups


def make_batches(src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]], *,
                 batch_size: int | None = None, max_tokens: int | None = None,
                 rng: np.random.Generator | None = None, pad_id: int = PAD_ID,
                 bos_id: int = BOS_ID, eos_id: int = EOS_ID, pool: int = 4096) -> list[Batch]:
    """One epoch: every pair in exactly one batch.

    The pairs are shuffled by `rng` (kept in order if None), sorted by length within pools of
    `pool` pairs so a batch holds similar lengths, cut into batches of `batch_size` pairs or of
    at most `max_tokens` padded positions (B * max(S, T); a longer pair gets a batch of its own),
    and the batches shuffled again.
    """
    if (batch_size is None) == (max_tokens is None):
        raise ValueError("make_batches: give exactly one of batch_size and max_tokens")
    for name, value in (("batch_size", batch_size), ("max_tokens", max_tokens), ("pool", pool)):
        if value is not None and value < 1:
            raise ValueError(f"make_batches: {name}={value} must be >= 1")
    if len(src_ids) != len(tgt_ids):
        raise ValueError(f"make_batches: {len(src_ids)} sources but {len(tgt_ids)} targets")
    n = len(src_ids)
    src_len = np.array([len(s) for s in src_ids], dtype=np.int64)
    tgt_len = np.array([len(t) + 1 for t in tgt_ids], dtype=np.int64)  # + <bos> or <eos>
    order = rng.permutation(n) if rng is not None else np.arange(n)
    groups = []
    for start in range(0, n, pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.lexsort((tgt_len[chunk], src_len[chunk]))]  # by source, then target
        groups += _cut(chunk, np.maximum(src_len, tgt_len), batch_size, max_tokens)
    if rng is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    return [_batch(g, src_ids, tgt_ids, pad_id, bos_id, eos_id) for g in groups]


def _batch(index: np.ndarray, src_ids, tgt_ids, pad_id: int, bos_id: int, eos_id: int) -> Batch:
    src = [src_ids[i] for i in index]
    tgt = [list(tgt_ids[i]) for i in index]
    return Batch(
        src=pad(src, pad_id),
        tgt_in=pad([[bos_id, *t] for t in tgt], pad_id),
        tgt_out=pad([[*t, eos_id] for t in tgt], pad_id),
        index=np.asarray(index, dtype=np.int64),
        n_src_tokens=sum(map(len, src)),
        n_tgt_tokens=sum(len(t) + 1 for t in tgt),
    )
