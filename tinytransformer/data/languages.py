"""The two languages of a translation run: how each side's text is cut into tokens and joined
back, how BLEU tokenises it, and which column of a file holds which language.

    src, tgt = Side("en", "words", lowercase=True), Side("fr", "words")
    src.tokenize("Where is the station?")  -> ['where', 'is', 'the', 'station', '?']
    tgt.detokenize(['Où', 'est', 'la', 'gare', '?'])  -> "Où est la gare ?"
    bleu_tokenize("zh") -> "zh",  bleu_tokenize("fr") -> "13a"

Three ways to cut a side (`tokenizer`):
    words  tokenize_words / detokenize_words: for languages written with spaces
    chars  Chinese and Japanese: tokenize_zh / detokenize_zh (one token per character, ASCII
           runs whole, spaces dropped); other languages: every character, spaces included
    bpe    byte-level BPE (tokenizers/bpe.py) learned on the side's training sentences; its
           pieces are spelled in GPT-2's byte alphabet so that a Vocab can hold them
The source side is lower-cased by default (fewer, more frequent tokens to read); the target
keeps its case, so that a translation reads as written and BLEU compares it with the reference
as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tokenize import detokenize_words, detokenize_zh, tokenize_words, tokenize_zh

TOKENIZERS = ("words", "chars", "bpe")
UNSPACED = {"zh", "ja"}  # written without spaces between words: characters by default
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def language(code: str) -> str:
    """An ISO 639 code ("en", "zh", "fr", ...), checked: a value check for the config."""
    code = str(code).strip().lower()
    if not LANGUAGE_CODE.fullmatch(code):
        raise ValueError(f"must be a language code of 2-3 letters such as en, zh, fr, got "
                         f"{code!r}")
    return code


def tokenizer_kind(kind: str) -> str:
    if kind not in TOKENIZERS:
        raise ValueError(f"must be one of {', '.join(TOKENIZERS)}, got {kind!r}")
    return kind


def default_tokenizer(lang: str) -> str:
    """Characters for Chinese and Japanese, words for everything else."""
    return "chars" if lang in UNSPACED else "words"


def bleu_tokenize(lang: str) -> str:
    """sacrebleu's tokenisation for references in `lang`: "zh" for Chinese (characters),
    "char" for Japanese (sacrebleu's "ja-mecab" needs MeCab), "13a" (WMT's) otherwise."""
    return {"zh": "zh", "ja": "char"}.get(lang, "13a")


@dataclass
class Side:
    """One side of a translation: its language and how its text becomes tokens."""

    lang: str
    tokenizer: str = "words"
    lowercase: bool = False
    bpe: object = None  # a BPETokenizer, for tokenizer "bpe" (see `learn`)

    def __post_init__(self):
        self.lang, self.tokenizer = language(self.lang), tokenizer_kind(self.tokenizer)
        if self.tokenizer == "words" and self.lang in UNSPACED:
            raise ValueError(f"{self.lang} is written without spaces, so it has no words to cut "
                             f"at spaces: use the tokenizer chars or bpe for it")
        if self.tokenizer == "bpe" and self.bpe is None:
            raise ValueError("a bpe side needs its learned tokenizer: Side.learn(...)")

    @classmethod
    def learn(cls, lang: str, tokenizer: str, lowercase: bool, texts, merges: int = 1000):
        """The side, with its BPE merges learned on `texts` when the tokenizer is bpe."""
        if tokenizer != "bpe":
            return cls(lang, tokenizer, lowercase)
        from ..tokenizers import train_bpe

        text = "\n".join(t.lower() if lowercase else t for t in texts)
        return cls(lang, tokenizer, lowercase, train_bpe(text, merges))

    def tokenize(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        if self.tokenizer == "words":
            return tokenize_words(text, lowercase=False)
        if self.tokenizer == "chars":
            return tokenize_zh(text) if self.lang in UNSPACED else list(text.strip())
        from ..tokenizers.pretokenize import to_byte_alphabet

        return [to_byte_alphabet(self.bpe.decode_bytes([i])) for i in self.bpe.encode(text)]

    def detokenize(self, tokens: list[str]) -> str:
        if self.tokenizer == "words":
            return detokenize_words(tokens, self.lang)
        if self.tokenizer == "chars":
            return detokenize_zh(tokens) if self.lang in UNSPACED else "".join(tokens)
        return _from_pieces(tokens)

    def describe(self) -> str:
        how = f"BPE ({len(self.bpe.merges)} merges)" if self.bpe else self.tokenizer
        return f"{self.lang} {how}{', lower-cased' if self.lowercase else ''}"

    def to_json(self) -> dict:
        return {"lang": self.lang, "tokenizer": self.tokenizer, "lowercase": self.lowercase,
                "bpe": self.bpe.to_json() if self.bpe is not None else None}

    @classmethod
    def from_json(cls, data: dict) -> Side:
        bpe = None
        if data.get("bpe") is not None:
            from ..tokenizers import BPETokenizer

            bpe = BPETokenizer.from_json(data["bpe"])
        return cls(data["lang"], data["tokenizer"], data["lowercase"], bpe)


def _from_pieces(tokens: list[str]) -> str:
    """BPE pieces in the byte alphabet -> text; <unk> and a character cut in two become U+FFFD."""
    from ..tokenizers.pretokenize import from_byte_alphabet

    data = b"".join(b"\xef\xbf\xbd" if t == "<unk>" else from_byte_alphabet(t) for t in tokens)
    return data.decode("utf-8", errors="replace").strip()


# Evidence that a text is in a language: its script, or else its commonest short words.
_SCRIPTS = {"zh": "[\u4e00-\u9fff]", "ja": "[\u3040-\u30ff]", "ko": "[\uac00-\ud7af]",
            "ru": "[\u0400-\u04ff]", "uk": "[\u0400-\u04ff]", "el": "[\u0370-\u03ff]",
            "ar": "[\u0600-\u06ff]", "he": "[\u0590-\u05ff]"}
_COMMON_WORDS = {
    "en": "the a is are i you he it to of and not do what this that my",
    "fr": "le la les est je tu il un une des et ne pas que vous nous ce",
    "de": "der die das ist ich du er ein eine nicht und zu es wir sie",
    "es": "el los las es yo un una que no y en por está",
    "it": "il lo gli è io un una che non di per sono",
    "pt": "o os é eu um uma que não de em você",
    "nl": "de het een is ik je niet en van dat",
}


def evidence(texts: list[str], lang: str) -> float:
    """How much `texts` look like `lang`, in [0, 1]: the share of texts in its script, or the
    share of words that are among its commonest; 0 for a language we know no evidence of."""
    if lang in _SCRIPTS:
        script = re.compile(_SCRIPTS[lang])
        return sum(bool(script.search(t)) for t in texts) / max(len(texts), 1)
    common = set(_COMMON_WORDS.get(lang, "").split())
    words = [w for t in texts for w in tokenize_words(t)]
    return sum(w in common for w in words) / max(len(words), 1)


def columns_swapped(pairs: list[tuple[str, str]], src_lang: str, tgt_lang: str) -> bool:
    """Does the first column of `pairs` read as `tgt_lang` and the second as `src_lang`
    (clearly better than the other way round)? Judged on the first 2000 pairs."""
    first, second = zip(*pairs[:2000]) if pairs else ((), ())
    keep = evidence(list(first), src_lang) + evidence(list(second), tgt_lang)
    swap = evidence(list(first), tgt_lang) + evidence(list(second), src_lang)
    return swap > keep + 0.1


EN_WORDS = Side("en", "words", lowercase=True)
ZH_CHARS = Side("zh", "chars")
DEFAULT_SIDES = (EN_WORDS, ZH_CHARS)  # the translator's first direction: English -> Chinese
