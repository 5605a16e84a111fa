"""Text for a language model (§2.1): one side of the toy corpus, and next-token batches.

    x = <bos> w_1 ... w_n          y = w_1 ... w_n <eos>

A decoder-only model reads x and is scored on y: the logits at position t, which have seen
<bos> w_1 .. w_t, must predict w_{t+1}, and the last must predict <eos>, where the sentence ends.

    text = toy_text("en")                                   # {"train": [["i", "read", ...]], ...}
    vocab = Vocab.build(text["train"])
    batches = lm_batches([vocab.encode(s) for s in text["train"]], 64, np.random.default_rng(0))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .batching import make_batches, pad
from .tokenize import tokenize_en, tokenize_zh
from .toy_splits import toy_splits
from .vocab import BOS_ID, EOS_ID, PAD_ID

TOKENIZERS = {"en": tokenize_en, "zh": tokenize_zh}  # words; characters


def toy_text(side: str = "en", seed: int = 0, n_train: int = 20_000, n_valid: int = 500,
             n_test: int = 500) -> dict[str, list[list[str]]]:
    """Tokenized sentences of one side of `toy_splits`: English words or Chinese characters.

    The splits are distinct sentences, and valid/test ones hold word combinations that never
    occur in train ("read ... magazine"), so held-out text really is new text.
    """
    if side not in TOKENIZERS:
        raise ValueError(f"toy_text: side must be 'en' or 'zh', got {side!r}")
    splits = toy_splits(seed, n_train, n_valid, n_test)
    column = 0 if side == "en" else 1
    return {name: [TOKENIZERS[side](pair[column]) for pair in pairs]
            for name, pairs in splits.items()}


def lm_arrays(ids: Sequence[Sequence[int]], pad_id: int = PAD_ID, bos_id: int = BOS_ID,
              eos_id: int = EOS_ID) -> tuple[np.ndarray, np.ndarray]:
    """[B] lists of ids -> x = <bos> + ids, y = ids + <eos>, both [B, T] int64, right-padded."""
    return (pad([[bos_id, *s] for s in ids], pad_id),
            pad([[*s, eos_id] for s in ids], pad_id))


def lm_batches(ids: Sequence[Sequence[int]], batch_size: int,
               rng: np.random.Generator | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch of (x, y) batches [B, T] of sentences of similar length, shuffled by `rng`."""
    return [(b.tgt_in, b.tgt_out) for b in make_batches(ids, ids, batch_size=batch_size, rng=rng)]
