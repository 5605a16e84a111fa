"""Tokenizers: text -> ids -> text, from words and characters to the byte-level BPE of LLMs.

    tok = train_bpe(open("book.txt").read(), num_merges=4000)      # our own BPE
    tok = BPETokenizer.from_gguf_metadata(metadata)                   # SmolLM2's, exactly
    tok.encode("Hello, world! 2024")  -> [19556, 28, 905, 17, 216, 34, 32, 34, 36]
    tok.pieces("Hello, world! 2024")  -> ['Hello', ',', ' world', '!', ' ', '2', '0', '2', '4']
    tok.save("tok.json"); load_tokenizer("tok.json")

    base.py         the interface (encode, decode, tokens, vocab_size, special_tokens, save/load)
    words.py        English words and Chinese characters (data/tokenize.py + data/vocab.py)
    chars.py        one id per Unicode character
    pretokenize.py  the GPT-2 / cl100k / SmolLM2 splitting regexes, the byte alphabet
    bpe.py          byte-level BPE: encode (ranked merges), decode, save/load
    formats.py      reading GPT-2 merges, tiktoken ranks, tokenizer.json, GGUF metadata
    bpe_train.py    training BPE, the readable way
    bpe_train_fast.py  the same merges, fast (incremental pair counts)
    chat.py         SmolLM2's chat template (ChatML)
    samples.py      hard strings (emoji, Chinese, spaces, numbers...) to test a tokenizer on
"""

from .base import Tokenizer, load_tokenizer
from .bpe import BPETokenizer
from .bpe_train import learn_merges, train_bpe
from .bpe_train_fast import learn_merges_fast
from .chars import CharTokenizer
from .chat import SMOLLM2_DEFAULT_SYSTEM, apply_chat_template
from .pretokenize import CL100K_PATTERN, GPT2_PATTERN, SMOLLM2_PATTERN, split_pieces
from .words import WordTokenizer

__all__ = [
    "Tokenizer", "load_tokenizer", "WordTokenizer", "CharTokenizer", "BPETokenizer",
    "train_bpe", "learn_merges", "learn_merges_fast", "split_pieces",
    "GPT2_PATTERN", "CL100K_PATTERN", "SMOLLM2_PATTERN",
    "apply_chat_template", "SMOLLM2_DEFAULT_SYSTEM",
]
