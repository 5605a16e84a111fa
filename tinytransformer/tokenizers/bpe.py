"""Byte-level BPE: the tokenizer of GPT-2, GPT-4 (tiktoken's cl100k_base), Llama 3 and SmolLM2.

    encode(text) = concat over pieces p of split(text):  merge(bytes of p)
    merge(x_1 .. x_n): while some adjacent pair (a, b) is in the merge table,
                       replace the pair of lowest rank (the leftmost if tied) by its token

Every string is a sequence of bytes and every byte is a token, so nothing is ever <unk>, and
decoding (concatenate each id's bytes, read as UTF-8) gives the text back exactly.

A merge table comes in two spellings, and `BPETokenizer` reads both:
  - merges (GPT-2, Hugging Face, our trainer): an ordered list "a b" -> ab; rank = position.
  - ranks (tiktoken): only the tokens, in order; ANY two adjacent parts whose bytes join into a
    token merge, ranked by that token's id, and a piece that is itself a token is taken whole.

Special tokens (<|endoftext|>, <|im_start|>) are found in the text first, so BPE never sees,
splits or merges across them; `encode_ordinary` reads them as plain text instead.
Text with lone surrogates (not valid Unicode; e.g. "\\ud800") is read as tiktoken reads it:
each becomes U+FFFD, so it cannot come back unchanged. A vocabulary may lack a few bytes
(SmolLM2's has no token for the controls 0x04 0x06 0x13 0x14 0x16 0x1D, nor for bytes UTF-8
never uses or only uses for unassigned planes): `missing_bytes` lists them, and encoding drops
them, as Hugging Face's tokenizer does; every other string comes back exactly.
"""

from __future__ import annotations

import heapq
from functools import lru_cache

from . import formats
from .base import Tokenizer, register
from .pretokenize import PATTERNS, compile_pattern, from_byte_alphabet, to_byte_alphabet

Merge = tuple[int, int, int]  # (left id, right id, merged id)


@register
class BPETokenizer(Tokenizer):
    """Byte-level BPE from its tokens (id -> bytes), its merges and its pre-tokenisation pattern.

    `merges=None` means tiktoken's ranks: the ids are the ranks and the merges are implied.
    `ignore_merges=True` takes a piece that is a token as that token before merging (tiktoken
    always does; Hugging Face's Llama 3 files say so with "ignore_merges").
    """

    type_name = "bpe"

    def __init__(self, tokens: dict[int, bytes], merges: list[Merge] | None,
                 pattern: str = "gpt2", specials: dict[str, int] | None = None,
                 ignore_merges: bool = False, bos_id: int | None = None,
                 eos_id: int | None = None, cache_size: int = 1 << 16):
        self.specials = dict(specials or {})
        self.id_to_bytes = {int(i): bytes(b) for i, b in tokens.items()}
        self.id_to_bytes.update({s: name.encode("utf-8") for name, s in self.specials.items()})
        special_ids = set(self.specials.values())
        ordinary = {b: i for i, b in tokens.items() if i not in special_ids}
        self.merges, self.pattern = merges, pattern
        self.ignore_merges = ignore_merges or merges is None
        self.bos_id, self.eos_id = bos_id, eos_id
        self._vocab_size = max(self.id_to_bytes) + 1  # ids may have holes (tiktoken's do)
        self._split = compile_pattern(pattern)
        self._byte_ids = _byte_ids(ordinary)
        self.missing_bytes = bytes(b for b, i in enumerate(self._byte_ids) if i is None)
        self._pairs = _implied_pairs(ordinary) if merges is None else _pair_table(merges)
        self._whole = ordinary if self.ignore_merges else None
        self._special_re = formats.special_regex(self.specials)
        self._piece_ids = lru_cache(maxsize=cache_size)(self._encode_piece)

    # -- encoding ------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Ids of `text`; special tokens written in it become their ids."""
        text = formats.valid_unicode(text)
        if self._special_re is None:
            return self._encode_pieces(text)
        out, start = [], 0
        for m in self._special_re.finditer(text):
            out += self._encode_pieces(text[start:m.start()])
            out.append(self.specials[m.group()])
            start = m.end()
        return out + self._encode_pieces(text[start:])

    def encode_ordinary(self, text: str) -> list[int]:
        """Ids of `text` with special tokens read as plain text."""
        return self._encode_pieces(formats.valid_unicode(text))

    def _encode_pieces(self, text: str) -> list[int]:
        out = []
        for piece in self._split.findall(text):
            out += self._piece_ids(piece)  # LRU cache: "the", " the", "." repeat all the time
        return out

    def _encode_piece(self, piece: str) -> tuple[int, ...]:
        data = piece.encode("utf-8")
        if self._whole is not None and data in self._whole:
            return (self._whole[data],)
        ids = [self._byte_ids[b] for b in data]
        if self.missing_bytes:  # dropped, as Hugging Face's BPE drops them (it has no <unk>)
            ids = [i for i in ids if i is not None]
        return merge_ids(ids, self._pairs)

    # -- decoding ------------------------------------------------------------------------------

    def decode_bytes(self, ids) -> bytes:
        """The raw bytes of `ids` (a cut through a character gives bytes that are not UTF-8)."""
        try:
            return b"".join([self.id_to_bytes[i] for i in ids])
        except (KeyError, TypeError) as err:
            bad = err.args[0] if isinstance(err, KeyError) else err
            raise ValueError(f"BPETokenizer.decode: id {bad!r} is not in the vocabulary "
                             f"(size {self.vocab_size})") from None

    def decode(self, ids) -> str:
        """Text of `ids`; bytes that are not valid UTF-8 become U+FFFD (errors="replace")."""
        return self.decode_bytes([int(i) for i in ids]).decode("utf-8", errors="replace")

    def tokens(self, ids) -> list[str]:
        """Each id's text; a token that cuts through a character shows its bytes as \\xNN."""
        return [self.decode_bytes([int(i)]).decode("utf-8", errors="backslashreplace")
                for i in ids]

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self.specials)

    # -- constructors and files ----------------------------------------------------------------

    @classmethod
    def from_tiktoken_ranks(cls, ranks: dict[bytes, int], pattern: str = "cl100k",
                            specials: dict[str, int] | None = None) -> BPETokenizer:
        """tiktoken's form: token bytes -> rank (= id); the merges are implied by the ranks."""
        return cls({r: b for b, r in ranks.items()}, None, pattern, specials)

    @classmethod
    def from_merges(cls, vocab, merges: list[str], pattern: str = "gpt2",
                    specials=None) -> BPETokenizer:
        """GPT-2 / Hugging Face form: `vocab` (list by id, or token -> id) and merges "a b",
        both in GPT-2's byte alphabet ("Ġthe"). `specials`: names, or name -> id."""
        return cls(**formats.read_merges(vocab, merges, specials), pattern=pattern)

    @classmethod
    def from_hf_tokenizer_json(cls, path) -> BPETokenizer:
        """A Hugging Face tokenizer.json of a byte-level BPE (GPT-2, SmolLM2, Llama 3 style)."""
        return cls(**formats.read_hf_tokenizer_json(path))

    @classmethod
    def from_gguf_metadata(cls, metadata: dict) -> BPETokenizer:
        """The tokenizer in a GGUF file's metadata (`tokenizer.ggml.model` == "gpt2")."""
        return cls(**formats.read_gguf_metadata(metadata))

    def to_json(self) -> dict:
        names = {v: k for k, v in PATTERNS.items()}
        ordinary = {i: b for i, b in self.id_to_bytes.items() if i not in self.specials.values()}
        return {"type": self.type_name, "pattern": names.get(self.pattern, self.pattern),
                "tokens": {str(i): to_byte_alphabet(b) for i, b in sorted(ordinary.items())},
                "merges": None if self.merges is None else [list(m) for m in self.merges],
                "ignore_merges": self.ignore_merges, "specials": self.specials,
                "bos_id": self.bos_id, "eos_id": self.eos_id}

    @classmethod
    def from_json(cls, data: dict) -> BPETokenizer:
        tokens = {int(i): from_byte_alphabet(t, f"token {i}") for i, t in data["tokens"].items()}
        merges = None if data["merges"] is None else [tuple(m) for m in data["merges"]]
        return cls(tokens, merges, data["pattern"], data["specials"], data["ignore_merges"],
                   data.get("bos_id"), data.get("eos_id"))

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, pattern={self.pattern!r}, "
                f"specials={len(self.specials)})")


def merge_ids(ids: list[int], pairs: dict[tuple[int, int], tuple[int, int]]) -> tuple[int, ...]:
    """Apply merges to one piece: lowest rank first, leftmost first among equal ranks.

    `pairs[(a, b)] = (rank, merged id)`. A heap of (rank, position) candidates and a linked
    list of live positions make this O(n log n) in the piece length n, which matters for
    Chinese, where a piece is a whole clause. A popped candidate whose ids have changed since
    it was pushed is stale and skipped.
    """
    n = len(ids)
    nxt, prv = list(range(1, n + 1)), list(range(-1, n - 1))
    heap = [(pairs[p][0], i, *p) for i, p in enumerate(zip(ids, ids[1:])) if p in pairs]
    heapq.heapify(heap)
    while heap:
        _, i, left, right = heapq.heappop(heap)
        j = nxt[i]
        if ids[i] != left or j >= n or ids[j] != right:
            continue  # stale: one side was merged into something else meanwhile
        ids[i], ids[j] = pairs[left, right][1], -1
        nxt[i] = k = nxt[j]
        if k < n:
            prv[k] = i
        for a, b in ((prv[i], i), (i, k)):  # the new token forms pairs with both neighbours
            if a >= 0 and b < n and (ids[a], ids[b]) in pairs:
                heapq.heappush(heap, (pairs[ids[a], ids[b]][0], a, ids[a], ids[b]))
    return tuple(t for t in ids if t >= 0)


def _byte_ids(ordinary: dict[bytes, int]) -> list[int | None]:
    """byte value -> id of its one-byte token, or None if the vocabulary has none."""
    return [ordinary.get(bytes([b])) for b in range(256)]


def _pair_table(merges: list[Merge]) -> dict[tuple[int, int], tuple[int, int]]:
    """(a, b) -> (rank, merged id), rank = position in the list. A pair listed twice keeps its
    last rank, as in Hugging Face's tokenizers (which builds the same map)."""
    return {(a, b): (rank, merged) for rank, (a, b, merged) in enumerate(merges)}


def _implied_pairs(ordinary: dict[bytes, int]) -> dict[tuple[int, int], tuple[int, int]]:
    """tiktoken's rule as a table: for every token t and every cut t = x + y into two tokens,
    (id x, id y) -> (rank t, t). tiktoken merges exactly the adjacent parts found here."""
    table = {}
    for data, t in ordinary.items():
        for cut in range(1, len(data)):
            x, y = ordinary.get(data[:cut]), ordinary.get(data[cut:])
            if x is not None and y is not None:
                table[x, y] = (t, t)
    return table
