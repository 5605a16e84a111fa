"""Data: the built-in toy corpus, tokenizers, vocabularies, TSV loading and batching.

    pairs = toy_splits(seed=0)["train"]  # [("i read books at home.", "我在家看书。"), ...]
    src_vocab = Vocab.build(tokenize_en(en) for en, _ in pairs)
    tgt_vocab = Vocab.build(tokenize_zh(zh) for _, zh in pairs)
    src = [src_vocab.encode(tokenize_en(en)) for en, _ in pairs]
    tgt = [tgt_vocab.encode(tokenize_zh(zh)) for _, zh in pairs]
    batches = make_batches(src, tgt, max_tokens=2048, rng=np.random.default_rng(0))
"""

from .batching import Batch, make_batches, pad
from .tokenize import detokenize_en, detokenize_zh, tokenize_en, tokenize_zh
from .toy import ToyExample, toy_examples, toy_pairs
from .toy_lexicon import lexicon_size
from .toy_splits import held_out, toy_split_examples, toy_splits
from .tsv import SAMPLE_TSV, DataError, load_tsv, read_text_lines, split_pairs
from .vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocab

__all__ = [
    "Batch", "make_batches", "pad",
    "tokenize_en", "tokenize_zh", "detokenize_en", "detokenize_zh",
    "ToyExample", "toy_examples", "toy_pairs", "toy_splits", "toy_split_examples", "held_out",
    "lexicon_size",
    "DataError", "load_tsv", "read_text_lines", "split_pairs", "SAMPLE_TSV",
    "Vocab", "SPECIALS", "PAD_ID", "UNK_ID", "BOS_ID", "EOS_ID",
]
