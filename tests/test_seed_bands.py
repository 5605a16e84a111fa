"""Seed bands: which runs a band applies to, the numbers of a band (against statistics'), and
the message a run gets. (Whether a default run falls inside its band takes minutes: not here.)"""

import statistics

import pytest

from tinytransformer.seed_bands import (
    band_from_histories,
    band_message,
    find_band,
    load_bands,
    settings,
)
from tinytransformer.train import TrainConfig, Trainer

BAND = {"name": "toy, defaults", "seeds": 3, "config": settings(TrainConfig()),
        "steps": {"500": {"valid_loss": [0.08, 0.01], "valid_bleu": [96.0, 2.0]}}}


@pytest.mark.parametrize("cfg, matches", [
    (TrainConfig(), True),
    (TrainConfig(seed=7, steps=3000, eval_every=250, minutes=2.0), True),  # seed and length
    (TrainConfig(model={"d_model": 128, "num_heads": 4}), True),  # the defaults, written out
    (TrainConfig(batch_size=32), False),
    (TrainConfig(model={"d_model": 64}), False),
    (TrainConfig(data="pairs.tsv"), False),
    (TrainConfig(arch="rnn"), False),
    (TrainConfig(src_lang="zh", tgt_lang="en"), False),
])
def test_a_band_applies_to_its_configuration_whatever_the_seed(cfg, matches):
    assert (find_band(cfg, [BAND]) is BAND) == matches


def test_a_setting_newer_than_the_band_must_be_at_its_default():
    older = {**BAND, "config": {k: v for k, v in BAND["config"].items() if k != "curriculum"}}
    assert find_band(TrainConfig(), [older]) is older
    assert find_band(TrainConfig(curriculum=2), [older]) is None


def test_the_default_configuration_has_a_shipped_band():
    band = find_band(TrainConfig())
    assert band is not None and band["seeds"] >= 3
    assert set(band["steps"]) >= {"500", "1000", "1500"}
    assert [b["name"] for b in load_bands()].count(band["name"]) == 1


@pytest.mark.parametrize("loss, bleu, expected", [
    (0.10, 95.0, "loss 0.080 ± 0.010 (+2.0 sd), BLEU 96.0 ± 2.0 (-0.5 sd): inside the band"),
    (0.08, 90.0, "BLEU 96.0 ± 2.0 (-3.0 sd): outside the band (BLEU more than 2 sd away)"),
    (0.11, 101.0, "(+3.0 sd), BLEU 96.0 ± 2.0 (+2.5 sd): outside the band (loss, BLEU more"),
])
def test_the_message_says_how_many_sd_away(loss, bleu, expected):
    message = band_message(BAND, {"step": 500, "valid_loss": loss, "valid_bleu": bleu})
    assert message.startswith("seed band (3 seeds): ") and expected in message
    assert band_message(BAND, {"step": 250, "valid_loss": loss, "valid_bleu": bleu}) is None


def test_a_band_is_the_mean_and_sample_sd_over_seeds():
    runs = [[{"step": 1, "train_loss": 5.0}, {"step": 500, "valid_loss": a, "valid_bleu": b},
             {"step": 700, "valid_loss": 0.0, "valid_bleu": 0.0}] for a, b in
            [(0.1, 90.0), (0.2, 95.0), (0.4, 97.0)]]
    runs[0] = runs[0][:2]  # one run stopped before step 700: only step 500 is common
    band = band_from_histories("x", {}, runs)
    (loss_mean, loss_sd), (bleu_mean, bleu_sd) = (band["steps"]["500"][k]
                                                  for k in ("valid_loss", "valid_bleu"))
    assert list(band["steps"]) == ["500"] and band["seeds"] == 3
    assert loss_mean == pytest.approx(statistics.mean([0.1, 0.2, 0.4]))
    assert loss_sd == pytest.approx(statistics.stdev([0.1, 0.2, 0.4]))
    assert (bleu_mean, bleu_sd) == pytest.approx((statistics.mean([90, 95, 97]),
                                                  statistics.stdev([90, 95, 97])))


def test_train_prints_where_an_evaluation_stands(tmp_path):
    trainer = Trainer(TrainConfig(), tmp_path, log=lambda *a: None)
    assert trainer.band is find_band(TrainConfig()) or trainer.band == find_band(TrainConfig())
    text = trainer.describe({"step": 500, "valid_loss": 0.08, "valid_bleu": 96.0})
    first, second = text.split("\n")
    assert first == "valid loss 0.080, BLEU 96.0" and second.startswith("  seed band (")
    assert trainer.describe({"step": 123, "valid_loss": 1.0, "valid_bleu": 1.0}) == \
        "valid loss 1.000, BLEU 1.0"
