"""A translation corpus: sentence pairs split into train / valid / test, turned the way the run
translates, with each side's tokenizer and vocabulary.

    corpus = load_corpus(TrainConfig(data="fra.tsv", src_lang="fr", tgt_lang="en"))
    corpus.splits["test"][0]     -> ("Où est la gare ?", "Where is the station?")  (source first)
    corpus.sides                 -> (Side fr words, lower-cased; Side en words)
    src_ids, tgt_ids = corpus.token_ids("train")

A file's pairs are split in the file's own column order, so both directions of one file hold
out the same sentences, and then turned: the source is column 2 when `source_column` says so,
or, when it is not set, when the text of the columns reads as the languages the other way
round (`languages.columns_swapped`). Vocabularies and BPE merges are learned on train only.
"""

from __future__ import annotations

from dataclasses import dataclass

from .documents import held_out_size
from .hsk import is_hsk
from .languages import DEFAULT_SIDES, Side, columns_swapped, default_tokenizer
from .toy_splits import toy_splits
from .tsv import DataError, load_tsv, split_pairs
from .vocab import Vocab


@dataclass
class Corpus:
    splits: dict  # {"train" | "valid" | "test": [(source, target), ...]}
    src_vocab: Vocab
    tgt_vocab: Vocab
    sides: tuple[Side, Side] = DEFAULT_SIDES  # how each side's text becomes tokens
    records: dict | None = None  # per split, one dict per pair (HSK: level, topic, glosses)
    source_column: int = 1  # the data's column that became the source

    def token_ids(self, split: str) -> tuple[list[list[int]], list[list[int]]]:
        """(source ids, target ids) of a split, as the vocabularies encode its sentences."""
        pairs = self.splits[split]
        src, tgt = self.sides
        return ([self.src_vocab.encode(src.tokenize(s)) for s, _ in pairs],
                [self.tgt_vocab.encode(tgt.tokenize(t)) for _, t in pairs])

    @property
    def vocabs(self):
        """(src_vocab, tgt_vocab) with the sides attached, as `translate` takes them."""
        from ..translate import Vocabs

        return Vocabs(self.src_vocab, self.tgt_vocab, self.sides)


def load_corpus(cfg, vocabs: tuple[Vocab, Vocab] | None = None,
                sides: tuple[Side, Side] | None = None) -> Corpus:
    """The toy corpus, HSK or a TSV file, split, turned source-first, with tokenizers and
    vocabularies learned on the training part (or a resumed run's `sides` and `vocabs`).

    `cfg`: a TrainConfig (data, max_words, valid_size, test_size, seed, src_lang, tgt_lang,
    src_tokenizer, tgt_tokenizer, bpe_merges, source_column, min_freq)."""
    splits, records = _file_order_splits(cfg)
    column = _source_column(cfg, splits)
    if column == 2:
        splits = {k: [(b, a) for a, b in pairs] for k, pairs in splits.items()}
    train = splits["train"]
    if sides is None:  # the source lower-cased, the target as written (see languages.py)
        sides = (Side.learn(cfg.src_lang, cfg.src_tokenizer or default_tokenizer(cfg.src_lang),
                            True, [s for s, _ in train], cfg.bpe_merges),
                 Side.learn(cfg.tgt_lang, cfg.tgt_tokenizer or default_tokenizer(cfg.tgt_lang),
                            False, [t for _, t in train], cfg.bpe_merges))
    if vocabs is None:
        vocabs = tuple(Vocab.build((side.tokenize(pair[i]) for pair in train),
                                   min_freq=cfg.min_freq) for i, side in enumerate(sides))
    return Corpus(splits, *vocabs, sides=tuple(sides), records=records, source_column=column)


def _file_order_splits(cfg) -> tuple[dict, dict | None]:
    """({split: [(column 1, column 2), ...]}, per-pair records or None), before any turning."""
    if cfg.data is None or is_hsk(cfg.data):
        _check_english_chinese(cfg)
    if cfg.data is None:
        return toy_splits(seed=cfg.seed), None
    if is_hsk(cfg.data):
        from .hsk import hsk_corpus_splits

        return hsk_corpus_splits(cfg)
    pairs = load_tsv(cfg.data, max_len=cfg.max_words)
    n_valid = cfg.valid_size or held_out_size(len(pairs))
    n_test = cfg.test_size or held_out_size(len(pairs))
    if len(pairs) < n_valid + n_test + 1:
        raise DataError(f"{cfg.data}: {len(pairs)} pairs of at most {cfg.max_words} words in "
                        f"column 1, too few to hold out {n_valid} for validation and {n_test} "
                        f"for test and train on the rest")
    return split_pairs(pairs, n_valid=n_valid, n_test=n_test, seed=cfg.seed), None


def _check_english_chinese(cfg) -> None:
    name = "the toy corpus" if cfg.data is None else "HSK"
    if {cfg.src_lang, cfg.tgt_lang} != {"en", "zh"}:
        raise DataError(f"{name} pairs English with Chinese; --src-lang {cfg.src_lang} "
                        f"--tgt-lang {cfg.tgt_lang} asks for another pair: give --data FILE.tsv")


def _source_column(cfg, splits: dict) -> int:
    """1 or 2: the column the run reads as its source."""
    if cfg.source_column is not None:
        return cfg.source_column
    return 2 if columns_swapped(splits["train"], cfg.src_lang, cfg.tgt_lang) else 1

