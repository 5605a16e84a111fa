"""The one interface every tokenizer here has: text -> ids -> text, and a JSON file.

    tok.encode("I like cats")        -> [57, 702, 7680]            (SmolLM2's tokenizer)
    tok.decode([57, 702, 7680])      -> "I like cats"
    tok.tokens([57, 702, 7680])      -> ['I', ' like', ' cats']   (what each id stands for)
    tok.save("tok.json"); load_tokenizer("tok.json")    (its "type" field picks the class)

A model only ever sees the ids; `vocab_size` is the size of its embedding table, and
`special_tokens` names the ids that mark structure (<eos>, <|im_start|>, ...) rather than text.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data.vocab import SPECIALS, Vocab

_TYPES: dict[str, type[Tokenizer]] = {}


def register(cls: type[Tokenizer]) -> type[Tokenizer]:
    """Class decorator: files whose "type" is `cls.type_name` load as `cls`."""
    _TYPES[cls.type_name] = cls
    return cls


class Tokenizer:
    """Base class. Subclasses set `type_name` and implement the methods that raise here."""

    type_name = "tokenizer"

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids) -> str:
        raise NotImplementedError

    def tokens(self, ids) -> list[str]:
        """What each id stands for, one string per id, so a learner can see the cut."""
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    @property
    def special_tokens(self) -> dict[str, int]:
        """Name -> id of the tokens that mark structure, not text."""
        raise NotImplementedError

    def to_json(self) -> dict:
        """Everything needed to rebuild this tokenizer, with a "type" field."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: dict) -> Tokenizer:
        raise NotImplementedError

    def pieces(self, text: str) -> list[str]:
        """The text cut the way the model sees it: `tokens(encode(text))`."""
        return self.tokens(self.encode(text))

    def save(self, path) -> Path:
        """Write the tokenizer as one JSON file (UTF-8, readable) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=1)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path) -> Tokenizer:
        """Read a file `save` wrote; it must hold this class's type (or any, on the base)."""
        tok = load_tokenizer(path)
        if not isinstance(tok, cls):
            raise ValueError(f"{path}: holds a {type(tok).__name__}, not a {cls.__name__}")
        return tok


class VocabTokenizer(Tokenizer):
    """A tokenizer whose ids come from a `Vocab` (<pad> <unk> <bos> <eos> = 0..3, then by
    falling frequency): `split` cuts text into tokens and `join` puts tokens back together."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def join(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.split(text))

    def decode(self, ids) -> str:
        """Text; <pad> <bos> <eos> are dropped, <unk> is written as "<unk>"."""
        return self.join(self.vocab.decode(ids))

    def tokens(self, ids) -> list[str]:
        return self.vocab.decode(ids, strip_specials=False)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def special_tokens(self) -> dict[str, int]:
        return {s: self.vocab.stoi[s] for s in SPECIALS}


def load_tokenizer(path) -> Tokenizer:
    """The tokenizer saved in `path`; its "type" field picks the class."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in _TYPES:
        raise ValueError(f"{path}: \"type\" is {kind!r}; a tokenizer file has one of "
                         f"{sorted(_TYPES)}")
    try:
        return _TYPES[kind].from_json(data)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: a {kind!r} tokenizer file is missing or has a bad "
                         f"field: {err}") from None
