"""Pre-tokenisation: cut text into pieces before BPE, and spell bytes as printable characters.

BPE never merges across a piece boundary, so the pattern decides what a token can be: with
GPT-2's pattern " the" can become one token, "the." never can.

    split_pieces("I'm here  42", GPT2_PATTERN)   -> ['I', "'m", ' here', ' ', ' 42']
    split_pieces("I'm here  42", SMOLLM2_PATTERN) -> ['I', "'m", ' here', '  ', '4', '2']

`regex` (not `re`) runs these: they need \\p{L} (any letter) and \\p{N} (any number), and
cl100k's possessive quantifiers (`?+`, `++`). `\\s` is Unicode's White_Space in `regex`, as in
Rust's regex (tiktoken) and Oniguruma (Hugging Face tokenizers).

What each pattern does to Chinese: Han characters are letters (\\p{Lo}), and Chinese puts no
spaces between words, so a whole run of characters up to punctuation is ONE piece:
"我喜欢猫，也喜欢狗。" -> ['我喜欢猫', '，', '也喜欢狗', '。'] (GPT-2, SmolLM2); BPE then
works inside those long pieces, and its cache of pieces rarely hits on Chinese.
"""

from __future__ import annotations

from functools import lru_cache

import regex

# GPT-2 (2019): English contractions, then " word", " 123", " !?" each with at most one leading
# space; runs of spaces keep their last space for the next word ("\s+(?!\S)").
# Chinese: a run of Han characters is one piece; full-width punctuation "，。！" is a piece of
# its own (it is not a letter or number); Chinese numerals 一二三 are letters, so they stay
# inside the run; 〇 and full-width digits "１２" are \p{N} and form number pieces.
GPT2_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
                r"""|\s+(?!\S)|\s+""")

# cl100k_base (GPT-3.5/4): contractions in any case; a letter run may carry ONE leading
# non-letter non-digit ("(word", ",word"); numbers in groups of at most 3 digits; newlines
# kept apart from other spaces. Possessive quantifiers (?+ ++ *+) never give back what they
# took. tiktoken writes `\s++$`; Rust's `$` is end of text, which is Python's `\Z`.
# Chinese: runs of Han characters are one piece as in GPT-2, but the punctuation mark just
# before a run is glued to it: "猫，也喜欢狗" -> ['猫', '，也喜欢狗'].
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
                  r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++\Z|\s*[\r\n]|\s+(?!\S)|\s""")

# SmolLM2 (GGUF `tokenizer.ggml.pre` = "smollm"): Hugging Face runs Digits(individual_digits)
# and then GPT-2's pattern on each part between digits; llama.cpp runs "\p{N}" and then GPT-2's
# pattern. One regex does the same: every number character is its own piece, no other branch
# can take a digit, and a run of spaces may end where a digit starts, as at the end of a part
# ("\s+(?![^\s\p{N}])" is GPT-2's "\s+(?!\S)" with digits counted as an end).
# Chinese: as GPT-2, except that 〇 and "１２" split into single characters.
SMOLLM2_PATTERN = (r"""\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+"""
                   r"""|\s+(?![^\s\p{N}])|\s+""")

PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN, "smollm2": SMOLLM2_PATTERN}


@lru_cache(maxsize=32)
def compile_pattern(pattern: str) -> regex.Pattern:
    """A pattern by name ("gpt2", "cl100k", "smollm2") or as a regular expression."""
    source = PATTERNS.get(pattern, pattern)
    try:
        return regex.compile(source)
    except regex.error as err:
        raise ValueError(f"pre-tokenisation pattern {pattern!r} is not a valid regex: {err}. "
                         f"Known names: {sorted(PATTERNS)}") from None


def split_pieces(text: str, pattern: str = "gpt2") -> list[str]:
    """The pieces of `text`, in order; they join back to `text` exactly (each pattern ends in a
    catch-all branch, so no character is skipped)."""
    return compile_pattern(pattern).findall(text)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> character table: every byte gets a printable, non-space character.

    Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68
    (controls, space, 0x7F-0xA0, 0xAD) take U+0100, U+0101, ... in byte order. So the space
    0x20 is 'Ġ' (U+0120) and the newline 0x0A is 'Ċ', which is why vocabularies are full of them.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return table


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def to_byte_alphabet(data: bytes) -> str:
    """b' the' -> 'Ġthe': bytes spelled in GPT-2's byte alphabet, as vocab files write them."""
    return "".join(BYTE_TO_CHAR[b] for b in data)


def from_byte_alphabet(token: str, where: str = "token") -> bytes:
    """'Ġthe' -> b' the'. A character outside the alphabet is an error naming `where`."""
    try:
        return bytes(CHAR_TO_BYTE[c] for c in token)
    except KeyError as err:
        raise ValueError(f"{where} {token!r}: character {err.args[0]!r} is not in GPT-2's byte "
                         f"alphabet, so this is not a byte-level BPE vocabulary") from None
