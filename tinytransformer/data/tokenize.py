"""Tokenizers: words (English, and any language written with spaces), Chinese characters.

    tokenize_en("I don't like Tom's cat.") -> ['i', 'do', "n't", 'like', 'tom', "'s", 'cat', '.']
    tokenize_zh("我用Twitter。7:45了。") -> ['我', '用', 'Twitter', '。', '7:45', '了', '。']
    tokenize_words("Où est la gare ?", lowercase=False) -> ['Où', 'est', 'la', 'gare', '?']
    detokenize_words(['Où', 'est', 'la', 'gare', '?'], "fr") -> "Où est la gare ?"

Detokenizing undoes them for normalised text (text as `detokenize_*` writes it), and for any
text `tokenize(detokenize(tokenize(s))) == tokenize(s)`.
"""

from __future__ import annotations

import re

_END = r"(?![^\W_])"  # the word ends here (like \b, but "_" counts as punctuation)
_CLITIC = rf"(?:s|m|re|ve|ll|d){_END}"
_EN_TOKEN = re.compile(rf"""
      [^\W_]+(?=n't{_END})           # "do" of "don't" (Penn Treebank style)
    | n't{_END}
    | (?<=[^\W_])'{_CLITIC}         # "'s" "'m" "'re" "'ve" "'ll" "'d" right after a word
    | [^\W_]+                       # a word or number, which may go on with
      (?: (?: (?<=\d)[.,:](?=\d)    #   3.5  1,000  7:45
            | -(?=[^\W_])           #   e-mail
            | '(?!{_CLITIC})        #   o'clock
          )[^\W_]+ )*
    | \S                            # anything else is one symbol: . , ? ! " ( ) ...
""", re.VERBOSE)

_CONTRACTIONS = {"n't", "'s", "'m", "'re", "'ve", "'ll", "'d"}
_ATTACH_LEFT = {".", ",", "!", "?", ";", ":", "%", ")", "]", "}", *_CONTRACTIONS}
_ATTACH_RIGHT = {"(", "[", "{", "$", "#"}
# what a language writes differently: French spaces before ? ! : ; and inside « »; Spanish
# opens questions with ¿ and exclamations with ¡; German quotes „so“.
_LEFT = {"fr": _ATTACH_LEFT - {"?", "!", ";", ":"}, "de": _ATTACH_LEFT | {"“"}}
_RIGHT = {"es": _ATTACH_RIGHT | {"¿", "¡"}, "de": _ATTACH_RIGHT | {"„"}}


_WORD_TOKEN = re.compile(_EN_TOKEN.pattern, re.VERBOSE | re.IGNORECASE)  # "DON'T" too


def tokenize_en(text: str) -> list[str]:
    """Lower-cased words, with punctuation and contractions split off ("don't" -> do n't)."""
    return _EN_TOKEN.findall(text.lower().replace("\u2019", "'"))


def tokenize_words(text: str, lowercase: bool = True) -> list[str]:
    """Words of any alphabetic language (Unicode letters: "où", "straße"), cut as `tokenize_en`
    cuts English; with `lowercase=False` the case is kept, so a translation reads as written."""
    if lowercase:
        return tokenize_en(text)
    return _WORD_TOKEN.findall(text.replace("\u2019", "'"))


def detokenize_en(tokens: list[str]) -> str:
    """Words joined by spaces, punctuation and contractions attached: "i do n't ." -> "i don't."."""
    return detokenize_words(tokens, "en")


def detokenize_words(tokens: list[str], lang: str = "en") -> str:
    """Words joined by spaces, punctuation attached as `lang` writes it (English's rules unless
    the language differs: "où est la gare ?" in French, "¿dónde está?" in Spanish)."""
    attach_left, attach_right = _LEFT.get(lang, _ATTACH_LEFT), _RIGHT.get(lang, _ATTACH_RIGHT)
    out, prev, glue_next, quotes = "", "", True, 0
    for tok in tokens:
        if tok == '"':  # opening quotes attach to the right, closing ones to the left
            quotes += 1
            left, right = quotes % 2 == 0, quotes % 2 == 1
        else:
            # "n't" only splits off again after a plain word ("do"), not after "e-mail" or "3.5"
            plain = re.fullmatch(r"[^\W_]+", prev) is not None
            left = tok.lower() in attach_left and (tok.lower() != "n't" or plain)
            right = tok in attach_right
        out += tok if (glue_next or left) else " " + tok
        prev, glue_next = tok, right
    return out


_ZH_TOKEN = re.compile(r"""
      [A-Za-z0-9]+                          # ASCII words and numbers stay whole: Tom, DJ, 30
      (?: (?: (?<=[0-9])[.,:](?=[0-9])      #   3.5  7:45
            | ['-](?=[A-Za-z0-9])           #   Tom's  T-shirt
          )[A-Za-z0-9]+ )*
    | \S                                    # every other character is a token; spaces go
""", re.VERBOSE)


def tokenize_zh(text: str) -> list[str]:
    """Characters, except that runs of ASCII letters and digits stay one token; spaces dropped."""
    return _ZH_TOKEN.findall(text)


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _would_join(left: str, mid: str, right: str) -> bool:
    """Would `left mid right`, written without spaces, read as one ASCII token?"""
    if mid in ".,:":
        return left.isascii() and left.isdigit() and right.isascii() and right.isdigit()
    return mid in "'-" and _ascii_alnum(left) and _ascii_alnum(right)


def detokenize_zh(tokens: list[str]) -> str:
    """Characters joined without spaces, except where two ASCII tokens would run together."""
    out = ""
    for i, tok in enumerate(tokens):
        before = tokens[i - 1] if i > 0 else " "
        after = tokens[i + 1] if i + 1 < len(tokens) else " "
        two_before = tokens[i - 2] if i > 1 else " "
        space = (i > 0 and (
            (_ascii_alnum(before[-1]) and _ascii_alnum(tok[0]))
            or (len(tok) == 1 and _would_join(before[-1], tok, after[0]))
            or (len(before) == 1 and _would_join(two_before[-1], before, tok[0]))))
        out += " " + tok if space else tok
    return out
