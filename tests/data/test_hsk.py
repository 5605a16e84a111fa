"""HSK from the hsk-sentences-audio package: records, level- and topic-balanced splits, either
direction, the curriculum's first steps, and per-level scores from `evaluate`."""

from collections import Counter

import pytest

from tinytransformer import cli
from tinytransformer.data import DataError
from tinytransformer.data.hsk import by_level, hsk_level, hsk_splits, load_hsk
from tinytransformer.train import TrainConfig, Trainer, load_corpus

from ..test_cli import TINY
from ..tiny_translator import TINY as TINY_MODEL

package = pytest.importorskip("hsk_sentences_audio", reason="pip install -e '.[hsk]'")


def test_records_are_the_packages_sentences_without_repeats():
    raw = package.load_sentences()
    records = load_hsk()
    assert len(raw) == 4354 and len(records) == len({r["chinese"] for r in raw})
    first = raw[0]
    assert records[0] == {"id": first["id"], "level": first["hsk_level"], "topic": first["topic"],
                          "en": first["translation"]["en"], "zh": first["chinese"],
                          "words": [(t["word"], t["gloss_en"]) for t in first["tokens"]]}


def test_splits_hold_out_every_level_and_topic_in_proportion():
    records = load_hsk()
    parts = hsk_splits(records, n_valid=200, n_test=400, seed=3)
    assert [len(parts[k]) for k in ("valid", "test")] == [200, 400]
    assert sum(map(len, parts.values())) == len(records)
    ids = [{r["id"] for r in parts[k]} for k in parts]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    cells = Counter((r["level"], r["topic"]) for r in records)
    held = Counter((r["level"], r["topic"]) for r in parts["test"])
    for cell, n in cells.items():  # Hamilton's method: within one of the exact share
        assert abs(held[cell] - 400 * n / len(records)) < 1
    assert hsk_splits(records, 200, 400, seed=3) == parts != hsk_splits(records, 200, 400, 4)


def test_the_corpus_turns_either_way_and_keeps_the_records_in_step():
    en_zh = load_corpus(TrainConfig(data="hsk"))
    zh_en = load_corpus(TrainConfig(data="hsk", src_lang="zh", tgt_lang="en"))
    for split, pairs in en_zh.splits.items():
        assert [(r["en"], r["zh"]) for r in en_zh.records[split]] == pairs
    assert zh_en.source_column == 2
    assert zh_en.splits["test"] == [(zh, en) for en, zh in en_zh.splits["test"]]
    levels = by_level(en_zh.records["test"], en_zh.splits["test"])
    assert list(levels) == [1, 2, 3, 4, 5, 6]


def test_the_curriculum_starts_with_the_easy_levels(tmp_path):
    cfg = TrainConfig(data="hsk", curriculum=1, curriculum_steps=3, batch_size=8,
                      model=TINY_MODEL)
    trainer = Trainer(cfg, tmp_path, log=lambda *a: None)
    records = trainer.corpus.records["train"]
    batches = trainer.batches_from(0)
    first = [next(batches) for _ in range(3)]
    later = [next(batches) for _ in range(20)]
    assert all(records[i]["level"] == 1 for b in first for i in b.index)
    assert any(records[i]["level"] > 1 for b in later for i in b.index)
    # resuming at step 2 gives the third batch again
    assert (next(trainer.batches_from(2)).index == first[2].index).all()


def test_bad_curriculum_settings_teach(tmp_path):
    with pytest.raises(ValueError, match="HSK level, 1 to 6"):
        hsk_level("7")
    with pytest.raises(DataError, match="needs --data hsk"):
        Trainer(TrainConfig(curriculum=2, model=TINY_MODEL), tmp_path,
                log=lambda *a: None).easy_ids()


def test_evaluate_scores_each_level(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--data", "hsk", "--run", str(run), "--steps", "2",
                     "--eval-every", "2", *TINY]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(run / "best")]) == 0
    out = capsys.readouterr().out
    assert "424 sentences (test)" in out
    assert [line.split(":")[0].strip() for line in out.splitlines()[1:]] == \
        [f"HSK {k}" for k in range(1, 7)]
    assert cli.main(["evaluate", "--checkpoint", str(run / "best"), "--limit", "30",
                     "--alignments"]) == 0
    out = capsys.readouterr().out.splitlines()
    heads = [line for line in out if line.strip().startswith("layer")]
    assert len(heads) == 2 and out[-1].startswith("best head: layer 0 head ")  # 1 layer x 2
