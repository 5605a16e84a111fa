"""data.tsv: loading sentence pairs from TSV files (errors name the file and line), and
splitting them into train/valid/test."""

from pathlib import Path

import pytest

from tinytransformer.data import SAMPLE_TSV, DataError, load_tsv, split_pairs, tokenize_en

TATOEBA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tatoeba-cmn-eng.tsv"


def test_load_sample():
    pairs = load_tsv(SAMPLE_TSV)
    assert len(pairs) == 40 and pairs[0] == ("Hello.", "你好。")
    assert all(src and tgt and "\t" not in src + tgt for src, tgt in pairs)
    assert load_tsv(SAMPLE_TSV, src_col=1, tgt_col=0)[0] == ("你好。", "Hello.")
    short = load_tsv(SAMPLE_TSV, max_len=3)
    assert ("Hello.", "你好。") in short and len(short) < len(pairs)
    assert all(len(tokenize_en(en)) <= 3 for en, _ in short)


def test_load_tolerates_bom_crlf_blank_lines_and_duplicates(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes("\ufeffHi.\t你好。\r\n\r\nRun!\t跑！\tCC0\r\nHi.\t你好。\n\n".encode())
    assert load_tsv(path) == [("Hi.", "你好。"), ("Run!", "跑！")]
    assert load_tsv(path, dedupe=False) == [("Hi.", "你好。"), ("Run!", "跑！"), ("Hi.", "你好。")]


MALFORMED = [  # (file contents, line of the error, what the message says)
    (b"Hi.\t\xe4\xbd\xa0\xe5\xa5\xbd\nRun!\n", 2, "expected 2 or 3 tab-separated columns, found 1"),
    (b"a\tb\n\nc\td\te\tf\n", 3, "found 4"),
    (b"a\tb\n\t\xe8\xb7\x91\n", 2, "column 1 is empty"),
    (b"a\t \tCC0\n", 1, "column 2 is empty"),
    (b"a\tb\nc\td\n\xff\tx\n", 3, "not valid UTF-8"),
    (b"\xef\xbb\xbfa\tb\xc3\n", 1, "not valid UTF-8"),
]


@pytest.mark.parametrize("content, line, message", MALFORMED)
def test_malformed_lines_are_named(tmp_path, content, line, message):
    path = tmp_path / "data.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_tsv(path)
    assert f"data.tsv:{line}:" in str(info.value)
    assert isinstance(info.value, ValueError)


PAIRS = [(f"sentence {i // 2}", f"句子{i}") for i in range(100)]  # two targets per source


@pytest.mark.parametrize("n_valid, n_test, sizes", [
    (10, 20, (70, 10, 20)),
    (0.1, 0.2, (70, 10, 20)),
    (0, 0, (100, 0, 0)),
])
def test_split_pairs(n_valid, n_test, sizes):
    parts = split_pairs(PAIRS, n_valid=n_valid, n_test=n_test, seed=3)
    assert tuple(len(parts[name]) for name in ("train", "valid", "test")) == sizes
    assert sorted(sum(parts.values(), [])) == sorted(PAIRS)  # a partition
    sources = {name: {src for src, _ in part} for name, part in parts.items()}
    assert not sources["train"] & sources["test"] and not sources["train"] & sources["valid"]
    assert parts == split_pairs(PAIRS, n_valid=n_valid, n_test=n_test, seed=3)
    assert parts["train"] == [p for p in PAIRS if p in parts["train"]]  # file order kept


def test_split_pairs_depends_on_seed_and_checks_sizes():
    assert split_pairs(PAIRS, 10, 10, seed=0) != split_pairs(PAIRS, 10, 10, seed=1)
    with pytest.raises(ValueError, match="exceeds"):
        split_pairs(PAIRS, 60, 60)
    with pytest.raises(ValueError, match="n_test"):
        split_pairs(PAIRS, 10, 1.5)


@pytest.mark.skipif(not TATOEBA.exists(), reason=f"Tatoeba corpus not found at {TATOEBA} "
                    "(CI clones the repository next to shared/)")
def test_load_tatoeba():
    pairs = load_tsv(TATOEBA)
    assert len(pairs) > 25_000 and len(set(pairs)) == len(pairs)
    assert pairs[0] == ("Hi.", "嗨。")
    short = load_tsv(TATOEBA, max_len=10)
    assert 20_000 < len(short) < len(pairs)
    assert all(len(tokenize_en(en)) <= 10 for en, _ in short)
