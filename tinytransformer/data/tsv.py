"""Sentence pairs from tab-separated files, as Tatoeba and the "Anki" files of manythings.org
ship them: English, a tab, the translation, and optionally a tab and an attribution.

    Hi.<TAB>你好。<TAB>CC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #891077 (Martha)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from .tokenize import tokenize_en

SAMPLE_TSV = Path(__file__).with_name("sample-cmn-eng.tsv")


class DataError(ValueError):
    """A data file is malformed; the message names the file and the 1-based line."""


def _read_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # tolerates a byte-order mark
    except UnicodeDecodeError as e:
        start = e.start + 3 if raw.startswith(b"\xef\xbb\xbf") else e.start
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {raw[start]:#04x} at byte "
                        f"{column} of the line)") from None
    return text.split("\n")


def read_text_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file, "\\r\\n" accepted; a decoding error names the line."""
    lines = [line.rstrip("\r") for line in _read_lines(Path(path))]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _fields(path: Path, number: int, line: str) -> list[str]:
    fields = line.split("\t")
    if not 2 <= len(fields) <= 3:
        raise DataError(f"{path}:{number}: expected 2 or 3 tab-separated columns, "
                        f"found {len(fields)}")
    for i, field in enumerate(fields[:2]):
        if not field.strip():
            raise DataError(f"{path}:{number}: column {i + 1} is empty")
    return [f.strip() for f in fields]


def load_tsv(path: str | Path, max_len: int | None = None, src_col: int = 0, tgt_col: int = 1,
             dedupe: bool = True) -> list[tuple[str, str]]:
    """(source, target) pairs in file order; blank lines skipped, "\\r\\n" endings accepted.

    max_len: keep pairs whose English side (column 0) has at most this many tokens
    (`tokenize_en`, punctuation included). dedupe: keep only the first of identical pairs.
    """
    path = Path(path)
    if sorted((src_col, tgt_col)) != [0, 1]:
        raise ValueError(f"load_tsv: src_col and tgt_col must be 0 and 1 in some order, "
                         f"got {src_col} and {tgt_col}")
    pairs, seen = [], set()
    for number, line in enumerate(_read_lines(path), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = _fields(path, number, line)
        if max_len is not None and len(tokenize_en(fields[0])) > max_len:
            continue
        pair = (fields[src_col], fields[tgt_col])
        if dedupe and pair in seen:
            continue
        seen.add(pair)
        pairs.append(pair)
    return pairs


def _size(n: int | float, total: int, name: str) -> int:
    """An int is a count; a float in (0, 1) is a share of `total`."""
    if isinstance(n, float):
        if not 0.0 < n < 1.0:
            raise ValueError(f"split_pairs: {name}={n} as a fraction must be in (0, 1)")
        return round(n * total)
    if n < 0:
        raise ValueError(f"split_pairs: {name}={n} must be >= 0")
    return n


def split_pairs(pairs: Sequence[tuple[str, str]], n_valid: int | float = 0.05,
                n_test: int | float = 0.05, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """{"train", "valid", "test"}: a deterministic split, each part in the input's order.

    n_valid, n_test: a count, or a fraction of len(pairs) if a float. All pairs with the same
    source sentence go to the same part, so no test source is ever trained on; test and valid
    are filled with whole groups in a shuffled order, skipping groups that would overflow.
    """
    total = len(pairs)
    want = {"test": _size(n_test, total, "n_test"), "valid": _size(n_valid, total, "n_valid")}
    if want["test"] + want["valid"] > total:
        raise ValueError(f"split_pairs: n_valid + n_test = {want['valid'] + want['test']} "
                         f"exceeds the {total} pairs")
    groups: dict[str, list[int]] = {}
    for i, (src, _) in enumerate(pairs):
        groups.setdefault(src, []).append(i)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    part = {"train": [], "valid": [], "test": []}
    for group in order:
        name = next((s for s in ("test", "valid") if len(part[s]) + len(group) <= want[s]),
                    "train")
        part[name].extend(group)
    return {name: [pairs[i] for i in sorted(idx)] for name, idx in part.items()}
