"""Character tokenizer: one id per Unicode character, spaces and newlines included.

    tok = CharTokenizer.train(["hello world"])
    tok.tokens(tok.encode("hold"))   -> ['h', 'o', 'l', 'd']
    tok.decode(tok.encode("hold"))   -> "hold"

The classic first language model: tiny vocabulary, nothing to learn, long sequences. Text made
of characters seen in training comes back exactly; an unseen character becomes <unk>.
Ids come from `data/vocab.py` (<pad> <unk> <bos> <eos> = 0..3, then by falling frequency).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..data.vocab import SPECIALS, Vocab
from .base import Tokenizer, register


@register
class CharTokenizer(Tokenizer):
    type_name = "chars"

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    @classmethod
    def train(cls, texts: Iterable[str], min_freq: int = 1,
              max_size: int | None = None) -> CharTokenizer:
        """A vocabulary of the characters seen in `texts` (see `Vocab.build`)."""
        return cls(Vocab.build((list(t) for t in texts), min_freq, max_size))

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(list(text))

    def decode(self, ids) -> str:
        """Text; <pad> <bos> <eos> are dropped, <unk> is written as "<unk>"."""
        return "".join(self.vocab.decode(ids))

    def tokens(self, ids) -> list[str]:
        return self.vocab.decode(ids, strip_specials=False)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def special_tokens(self) -> dict[str, int]:
        return {s: self.vocab.stoi[s] for s in SPECIALS}

    def to_json(self) -> dict:
        return {"type": self.type_name, **self.vocab.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> CharTokenizer:
        return cls(Vocab.from_json(data))
