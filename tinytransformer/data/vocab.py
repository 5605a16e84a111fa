"""Vocabulary: token <-> id, with the four special tokens every sequence model needs.

    vocab = Vocab.build([["i", "like", "cats"], ["i", "like", "tea"]])
    vocab.encode(["i", "like", "dogs"], add_eos=True)  -> [4, 5, 1, 3]     (dogs is <unk>)
    vocab.decode([4, 5, 1, 3])                          -> ['i', 'like', '<unk>']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


class Vocab:
    """The specials take ids 0-3; other tokens follow by falling frequency, ties by the token."""

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, tokens: Sequence[str]):
        """`tokens`: every token in id order, starting with <pad> <unk> <bos> <eos>."""
        tokens = list(tokens)
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"Vocab: the first tokens must be {list(SPECIALS)}, "
                             f"got {tokens[:4]}")
        repeated = [t for t, n in Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"Vocab: tokens appear more than once: {repeated[:10]}")
        self.itos = tokens
        self.stoi = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None) -> Vocab:
        """Tokens seen at least `min_freq` times; at most `max_size` in all, specials included."""
        counts = Counter(t for sentence in sentences for t in sentence)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((t for t, n in counts.items() if n >= min_freq),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            if max_size < len(SPECIALS):
                raise ValueError(f"Vocab.build: max_size={max_size} leaves no room for the "
                                 f"{len(SPECIALS)} special tokens")
            kept = kept[:max_size - len(SPECIALS)]
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.itos[4:12]}...)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def encode(self, tokens: Iterable[str], add_bos: bool = False,
               add_eos: bool = False) -> list[int]:
        """Token ids; unknown tokens become <unk>."""
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return [BOS_ID] * add_bos + ids + [EOS_ID] * add_eos

    def decode(self, ids: Iterable[int], strip_specials: bool = True) -> list[str]:
        """Tokens; with `strip_specials`, <pad> <bos> <eos> are dropped (<unk> is kept)."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise ValueError(f"Vocab.decode: id {i} is outside the vocabulary "
                                 f"[0, {len(self.itos)})")
            if not (strip_specials and i in (PAD_ID, BOS_ID, EOS_ID)):
                out.append(self.itos[i])
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict, {"tokens": [...]}, to save beside a checkpoint."""
        return {"tokens": list(self.itos)}

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError('Vocab.from_json: expected a dict {"tokens": [...]}, '
                             f"got {type(data).__name__}")
        return cls(data["tokens"])
