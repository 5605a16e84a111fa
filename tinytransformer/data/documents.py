"""Text for a language model from any UTF-8 file: documents, splits, a tokenizer, token streams.

    documents   a fortune file's entries (poems, quotations: fortunes.py); otherwise the
                paragraphs (blank-line separated), or the lines if there are fewer than 20
    splits      whole documents held out at random for validation and for test, so held-out
                text is text the model never saw, whatever order the file is in
    tokenizer   trained on the training documents only: characters, or byte-level BPE
    stream      sep d_1 sep d_2 sep ... d_n sep, one sequence of ids per split, where sep
                ends a document (<eos>; <|endoftext|> for BPE) and starts the next

A model reads windows of a stream, x = s[i : i+T] and y = s[i+1 : i+T+1] ([B, T] each).

A perplexity per token depends on the tokenizer (a BPE token holds more text than a character),
so models with different tokenizers are compared per character, the NLL of a split summed over
its tokens and divided by the characters it predicts (each document's characters and its end):

    PPL_char = exp( sum_t -log P(s_t | s_<t) / N_chars )
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..tokenizers import BPETokenizer, CharTokenizer, Tokenizer, train_bpe
from .fortunes import is_fortune_text, split_fortunes
from .tsv import DataError, read_text_lines
from .vocab import EOS

ENDOFTEXT = "<|endoftext|>"  # BPE's document separator, as in GPT-2
TOKENIZERS = ("chars", "bpe")
BPE_VOCAB_SIZE = 1024  # the default: 256 bytes, 767 merges, <|endoftext|>
MIN_PARAGRAPHS = 20  # fewer paragraphs than this, and the lines are the documents


def held_out_size(n: int) -> int:
    """Items (sentence pairs, documents) held out of n for validation, and as many for test:
    5 %, at most 1000, at least 1."""
    return max(1, min(1000, round(0.05 * n)))


def read_documents(path: str | Path) -> list[str]:
    """The documents of a UTF-8 text file; an empty or binary file is a DataError."""
    lines = read_text_lines(path)
    if not any(line.strip() for line in lines):
        raise DataError(f"{path}: the file is empty (no text to learn from)")
    if any("\x00" in line for line in lines):
        raise DataError(f"{path}: contains NUL bytes, so it is binary (or UTF-16), not UTF-8 "
                        f"text")
    if is_fortune_text(lines):
        return split_fortunes(lines)
    paragraphs = [p.strip("\n") for p in "\n".join(lines).split("\n\n") if p.strip()]
    return paragraphs if len(paragraphs) >= MIN_PARAGRAPHS else [x for x in lines if x.strip()]


def split_documents(docs: list[str], seed: int, path="the text") -> dict[str, list[str]]:
    """{"train", "valid", "test"}: whole documents drawn at random, each part in file order."""
    n_held = held_out_size(len(docs))
    if len(docs) < 2 * n_held + 1:
        raise DataError(f"{path}: {len(docs)} document(s), too few to hold one out for "
                        f"validation and one for test and train on the rest (a fortune file "
                        f"separates them with '%' lines, other text with blank lines)")
    order = np.random.default_rng([seed, 7]).permutation(len(docs))
    parts = {"valid": order[:n_held], "test": order[n_held:2 * n_held],
             "train": order[2 * n_held:]}
    return {name: [docs[i] for i in sorted(idx)] for name, idx in parts.items()}


def train_tokenizer(kind: str, docs: list[str], vocab_size: int | None) -> Tokenizer:
    """Characters (the `vocab_size` most frequent, all if None) or byte-level BPE with
    `vocab_size` = 256 bytes + merges + <|endoftext|> (default 1024; fewer if the text runs
    out of pairs)."""
    if kind == "chars":
        return CharTokenizer.train(docs, max_size=vocab_size)
    if kind == "bpe":
        merges = (vocab_size or BPE_VOCAB_SIZE) - 257
        return train_bpe(ENDOFTEXT.join(docs), num_merges=merges, specials=[ENDOFTEXT])
    raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {kind!r}")


def separator_id(tok: Tokenizer) -> int:
    """The id that ends one document and starts the next."""
    return tok.special_tokens[ENDOFTEXT if isinstance(tok, BPETokenizer) else EOS]


def encode_text(tok: Tokenizer, text: str) -> list[int]:
    """Ids of plain text: with BPE, "<|endoftext|>" written in a document stays text."""
    return tok.encode_ordinary(text) if isinstance(tok, BPETokenizer) else tok.encode(text)


def to_stream(tok: Tokenizer, docs: list[str]) -> np.ndarray:
    """sep d_1 sep d_2 ... d_n sep -> [N] int64."""
    sep, out = separator_id(tok), []
    out.append(sep)
    for d in docs:
        out += encode_text(tok, d)
        out.append(sep)
    return np.array(out, dtype=np.int64)


def count_chars(docs: list[str]) -> int:
    """The characters a stream of `docs` predicts: each document's, and one for its end."""
    return sum(len(d) + 1 for d in docs)


@dataclass
class TextCorpus:
    docs: dict[str, list[str]]  # {"train" | "valid" | "test": [document, ...]}
    tokenizer: Tokenizer
    streams: dict[str, np.ndarray]  # split -> [N] ids
    chars: dict[str, int]  # split -> characters its stream predicts


def load_text_corpus(path: str | Path, kind: str = "chars", vocab_size: int | None = None,
                     seed: int = 0, context: int = 1,
                     tokenizer: Tokenizer | None = None) -> TextCorpus:
    """Documents of `path`, split by `seed`, tokenized by `tokenizer` or one trained on the
    training part; the training stream must hold at least one window of `context` tokens."""
    docs = split_documents(read_documents(path), seed, path)
    tok = tokenizer or train_tokenizer(kind, docs["train"], vocab_size)
    streams = {name: to_stream(tok, d) for name, d in docs.items()}
    if len(streams["train"]) < context + 1:
        raise DataError(f"{path}: its training part is {len(streams['train'])} tokens, fewer "
                        f"than one context of {context} + 1 (the next-token targets): use a "
                        f"bigger file or a smaller --context")
    return TextCorpus(docs, tok, streams, {name: count_chars(d) for name, d in docs.items()})


def random_windows(stream: np.ndarray, T: int, B: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """B windows at random places: x = s[i : i+T], y = s[i+1 : i+T+1], both [B, T]."""
    starts = rng.integers(0, len(stream) - T, size=B)  # [B]
    index = starts[:, None] + np.arange(T)  # [B, T]
    return stream[index], stream[index + 1]


def eval_windows(stream: np.ndarray, T: int,
                 batch_size: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
    """Windows side by side, each target s_1 .. s_{N-1} predicted once: batches of (x, y)
    [B, T], then the shorter last window alone ([1, t])."""
    full = (len(stream) - 1) // T
    index = np.arange(full)[:, None] * T + np.arange(T)  # [full, T]
    out = [(stream[index[i:i + batch_size]], stream[index[i:i + batch_size] + 1])
           for i in range(0, full, batch_size)]
    rest = np.arange(full * T, len(stream) - 1)
    if len(rest):
        out.append((stream[rest][None], stream[rest + 1][None]))
    return out
