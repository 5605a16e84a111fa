"""Word tokenizers: the translator's English words and Chinese characters, behind the interface.

    tok = WordTokenizer.train(["I like cats.", "I like tea."], language="en")
    tok.encode("I like dogs.")   -> [5, 6, 1, 4]          (dogs was never seen: <unk> = 1)
    tok.decode([5, 6, 1, 4])     -> "i like <unk>."

Lossy on purpose: English is lower-cased and unknown words become <unk>, which is why LLMs moved
to byte-level BPE (bpe.py), where every string has ids and comes back exactly.
The cutting is `data/tokenize.py`'s and the ids are `data/vocab.py`'s (<pad> <unk> <bos> <eos>
= 0..3); this file only joins them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..data.tokenize import detokenize_en, detokenize_zh, tokenize_en, tokenize_zh
from ..data.vocab import Vocab
from .base import VocabTokenizer, register

# language -> (text -> tokens, tokens -> text)
LANGUAGES = {"en": (tokenize_en, detokenize_en), "zh": (tokenize_zh, detokenize_zh)}


@register
class WordTokenizer(VocabTokenizer):
    """"en": lower-cased words, punctuation and n't split off. "zh": one token per character,
    except that runs of ASCII letters and digits stay whole ("Twitter", "7:45")."""

    type_name = "words"

    def __init__(self, vocab: Vocab, language: str = "en"):
        if language not in LANGUAGES:
            raise ValueError(f"WordTokenizer: language must be one of {sorted(LANGUAGES)}, "
                             f"got {language!r}")
        super().__init__(vocab)
        self.language = language

    @classmethod
    def train(cls, texts: Iterable[str], language: str = "en", min_freq: int = 1,
              max_size: int | None = None) -> WordTokenizer:
        """A vocabulary of the tokens seen in `texts` (see `Vocab.build`)."""
        if language not in LANGUAGES:
            raise ValueError(f"WordTokenizer.train: language must be one of "
                             f"{sorted(LANGUAGES)}, got {language!r}")
        split = LANGUAGES[language][0]
        return cls(Vocab.build((split(t) for t in texts), min_freq, max_size), language)

    def split(self, text: str) -> list[str]:
        return LANGUAGES[self.language][0](text)

    def join(self, tokens: list[str]) -> str:
        return LANGUAGES[self.language][1](tokens)

    def to_json(self) -> dict:
        return {"type": self.type_name, "language": self.language, **self.vocab.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> WordTokenizer:
        return cls(Vocab.from_json(data), data["language"])
