"""Reading other people's BPE files into `BPETokenizer`'s arguments.

    GPT-2 / Hugging Face    vocab {"Ġthe": 262, ...} + merges ["Ġ t", "h e", ...]
    tokenizer.json          the same, inside {"model": {"type": "BPE", ...}, "pre_tokenizer": ...}
    tiktoken (.tiktoken)    one "base64(token bytes) rank" a line; the rank is the id
    GGUF metadata           tokenizer.ggml.tokens (list by id) + tokenizer.ggml.merges, and
                            tokenizer.ggml.token_type, where 3 = control (a special token)

Vocab files spell bytes in GPT-2's byte alphabet (pretokenize.py); special tokens are plain text.
Each reader returns keyword arguments for `BPETokenizer(...)`, and an error names the entry.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import regex

from .pretokenize import from_byte_alphabet

# GGUF `tokenizer.ggml.pre` -> our pattern name (llama.cpp's llama-vocab.cpp lists them)
GGUF_PRE = {"smollm": "smollm2", "gpt-2": "gpt2"}
GGUF_CONTROL, GGUF_USER_DEFINED = 3, 4  # token types matched whole, before pre-tokenisation


def valid_unicode(text: str) -> str:
    """`text`, with each lone surrogate (which UTF-8 cannot encode) replaced by U+FFFD, as
    tiktoken does (a high + low pair becomes the one character they encode)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def special_regex(specials: dict[str, int]) -> regex.Pattern | None:
    """One regex for all special tokens, longest first, so "<|im_start|>" wins over "<|im"."""
    if not specials:
        return None
    return regex.compile("|".join(regex.escape(s) for s in sorted(specials, key=len,
                                                                   reverse=True)))


def read_merges(vocab, merges: list, specials=None) -> dict:
    """`vocab` (list by id, or token -> id), merges "a b", `specials` (names or name -> id)
    -> {"tokens": id -> bytes, "merges": [(a, b, ab), ...], "specials": name -> id}."""
    token_ids = dict(vocab) if isinstance(vocab, dict) else {t: i for i, t in enumerate(vocab)}
    specials = _special_ids(specials, token_ids)
    tokens = {i: t.encode("utf-8") if t in specials else from_byte_alphabet(t, f"vocab entry {i}")
              for t, i in token_ids.items()}
    return {"tokens": tokens, "merges": [_merge(m, n, token_ids) for n, m in enumerate(merges)],
            "specials": specials}


def _special_ids(specials, token_ids: dict[str, int]) -> dict[str, int]:
    if specials is None:
        return {}
    if isinstance(specials, dict):
        return {str(k): int(v) for k, v in specials.items()}
    missing = [s for s in specials if s not in token_ids]
    if missing:
        raise ValueError(f"special tokens {missing} are not in the vocabulary; pass "
                         f"name -> id for tokens outside it")
    return {s: token_ids[s] for s in specials}


def _merge(line, n: int, token_ids: dict[str, int]) -> tuple[int, int, int]:
    """"Ġ t" (or ["Ġ", "t"]) -> (id Ġ, id t, id Ġt)."""
    parts = line.split(" ") if isinstance(line, str) else list(line)
    if len(parts) != 2:
        raise ValueError(f"merge {n} {line!r}: expected two tokens separated by one space")
    a, b = parts
    for t in (a, b, a + b):
        if t not in token_ids:
            raise ValueError(f"merge {n} {line!r}: {t!r} is not in the vocabulary")
    return token_ids[a], token_ids[b], token_ids[a + b]


# -- tiktoken ------------------------------------------------------------------------------------

def load_tiktoken_ranks(path) -> dict[bytes, int]:
    """A tiktoken vocabulary file (optionally gzipped): one "base64(token bytes) rank" a line."""
    path = Path(path)
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("ascii")
    ranks = {}
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}:{n}: expected 'base64-token rank', got {line[:60]!r}")
        ranks[base64.b64decode(parts[0])] = int(parts[1])
    return ranks


# -- Hugging Face tokenizer.json ---------------------------------------------------------------

def read_hf_tokenizer_json(path) -> dict:
    """A tokenizer.json whose model is byte-level BPE, with no normalizer."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise ValueError(f"{path}: model is {model.get('type')!r} (byte_fallback="
                         f"{model.get('byte_fallback')}); only byte-level BPE can be read")
    extras = [k for k in ("dropout", "continuing_subword_prefix", "end_of_word_suffix")
              if model.get(k)]
    if extras:
        raise ValueError(f"{path}: the BPE model sets {extras}, which BPETokenizer does not do")
    if data.get("normalizer") is not None:
        raise ValueError(f"{path}: has a normalizer ({data['normalizer'].get('type')}), "
                         f"which BPETokenizer does not run")
    added = data.get("added_tokens") or []
    for t in added:
        if t.get("lstrip") or t.get("rstrip") or t.get("single_word"):
            raise ValueError(f"{path}: added token {t['content']!r} uses lstrip/rstrip/"
                             f"single_word, which BPETokenizer does not support")
    specials = {t["content"]: t["id"] for t in added}  # all are matched whole, as in HF
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return {**read_merges(model["vocab"], merges, specials),
            "pattern": hf_pattern(data.get("pre_tokenizer"), path),
            "ignore_merges": bool(model.get("ignore_merges", False))}


def hf_pattern(pre: dict | None, path) -> str:
    """Our pattern for a tokenizer.json pre_tokenizer: ByteLevel alone is GPT-2's; Digits then
    ByteLevel is SmolLM2's; Split(Regex) then ByteLevel(use_regex=false) is that regex."""
    steps = (pre.get("pretokenizers") if pre and pre.get("type") == "Sequence" else [pre])
    kinds = [s.get("type") if s else None for s in steps]
    last = steps[-1] or {}
    if kinds[-1] == "ByteLevel" and last.get("add_prefix_space"):
        raise ValueError(f"{path}: ByteLevel(add_prefix_space=true) is not supported")
    if kinds == ["ByteLevel"] and last.get("use_regex", True):
        return "gpt2"
    if (kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits")
            and last.get("use_regex", True)):
        return "smollm2"
    if kinds == ["Split", "ByteLevel"] and not last.get("use_regex", True):
        split = steps[0]
        if "Regex" in split.get("pattern", {}) and split.get("behavior") == "Isolated" \
                and not split.get("invert"):
            return split["pattern"]["Regex"]
    raise ValueError(f"{path}: pre_tokenizer {kinds} is not one BPETokenizer knows (ByteLevel; "
                     f"Digits + ByteLevel; Split(Regex, Isolated) + ByteLevel)")


# -- GGUF ----------------------------------------------------------------------------------------

def read_gguf_metadata(metadata: dict) -> dict:
    """A GGUF file's tokenizer.* metadata (plain Python values) -> BPETokenizer arguments."""
    model = metadata.get("tokenizer.ggml.model")
    if model != "gpt2":
        raise ValueError(f"GGUF tokenizer.ggml.model is {model!r}; only 'gpt2' (byte-level "
                         f"BPE) can be read")
    pre = metadata.get("tokenizer.ggml.pre", "default")
    if pre not in GGUF_PRE:
        raise ValueError(f"GGUF tokenizer.ggml.pre is {pre!r}; known: {sorted(GGUF_PRE)}")
    tokens = list(metadata["tokenizer.ggml.tokens"])
    types = list(metadata.get("tokenizer.ggml.token_type") or [])
    specials = {t: i for i, (t, kind) in enumerate(zip(tokens, types))
                if kind in (GGUF_CONTROL, GGUF_USER_DEFINED)}
    return {**read_merges(tokens, list(metadata["tokenizer.ggml.merges"]), specials),
            "pattern": GGUF_PRE[pre],
            "bos_id": metadata.get("tokenizer.ggml.bos_token_id"),
            "eos_id": metadata.get("tokenizer.ggml.eos_token_id")}
