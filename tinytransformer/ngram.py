"""The counting baseline a language model must beat: an add-k bigram model on token ids.

    P(b | a) = (c(a, b) + k) / (c(a) + k V)

c(a, b) counts b right after a in the training stream, c(a) counts a followed by anything,
V is the vocabulary size, and k > 0 gives unseen pairs some probability (chapter 1 derives
it). Counting sparse pairs (np.unique on a*V + b) keeps this cheap for V in the thousands.

    k, nll = best_bigram(train_stream, valid_stream, V)     # k picked on the held-out stream
    ppl_char = exp(nll / valid_chars)
"""

from __future__ import annotations

import numpy as np

K_GRID = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)


def bigram_nll(train: np.ndarray, held_out: np.ndarray, V: int, k: float) -> float:
    """Sum over held_out's next tokens of -log P(b | a), counts from `train` ([N] ids each)."""
    train, held_out = np.asarray(train, np.int64), np.asarray(held_out, np.int64)
    codes, counts = np.unique(train[:-1] * V + train[1:], return_counts=True)  # c(a, b) > 0
    query = held_out[:-1] * V + held_out[1:]
    at = np.minimum(np.searchsorted(codes, query), len(codes) - 1)
    c_ab = np.where(codes[at] == query, counts[at], 0)
    c_a = np.bincount(train[:-1], minlength=V)[held_out[:-1]]
    return float(-np.log((c_ab + k) / (c_a + k * V)).sum())


def best_bigram(train: np.ndarray, held_out: np.ndarray, V: int,
                ks=K_GRID) -> tuple[float, float]:
    """(k, total NLL) of the k in `ks` that gives `held_out` the lowest NLL."""
    return min(((k, bigram_nll(train, held_out, V, k)) for k in ks), key=lambda p: p[1])
