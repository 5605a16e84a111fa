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

from ..data.vocab import Vocab
from .base import VocabTokenizer, register


@register
class CharTokenizer(VocabTokenizer):
    type_name = "chars"

    @classmethod
    def train(cls, texts: Iterable[str], min_freq: int = 1,
              max_size: int | None = None) -> CharTokenizer:
        """A vocabulary of the characters seen in `texts` (see `Vocab.build`)."""
        return cls(Vocab.build((list(t) for t in texts), min_freq, max_size))

    def split(self, text: str) -> list[str]:
        return list(text)

    def join(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def to_json(self) -> dict:
        return {"type": self.type_name, **self.vocab.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> CharTokenizer:
        return cls(Vocab.from_json(data))
