"""The translator end to end, on a tiny model trained for seconds: training, resuming,
the commands and the attention figure (its decoding: test_decode.py)."""

import numpy as np
import pytest

from tinytransformer import cli
from tinytransformer.checkpoint import load_checkpoint
from tinytransformer.plot import find_cjk_font
from tinytransformer.train import Trainer
from tinytransformer.translate import attention_maps, load_translator

from .tiny_translator import tiny_config


def losses(history):
    return [h["train_loss"] for h in history if "train_loss" in h]


@pytest.mark.slow  # trains the tiny translator (conftest's `trained`)
def test_loss_falls(trained):
    run, trainer = trained
    train = losses(trainer.history)
    assert np.mean(train[-5:]) < np.mean(train[:5]) - 0.5
    assert (run / "latest" / "model.safetensors").exists() and (run / "best").exists()
    assert (run / "curves.png").stat().st_size > 1000


@pytest.mark.slow  # three training runs, 24 steps in all
def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    whole = Trainer(tiny_config(steps=12, eval_every=6), tmp_path / "a", log=lambda *a: None)
    whole.run(progress=False)
    first = Trainer(tiny_config(steps=6, eval_every=6), tmp_path / "b", log=lambda *a: None)
    first.run(progress=False)
    resumed = Trainer(tiny_config(steps=12, eval_every=6), tmp_path / "b", resume=True,
                      log=lambda *a: None)
    resumed.run(progress=False)
    assert losses(resumed.history) == losses(whole.history)


def test_ctrl_c_saves_latest_and_stops(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(steps=100), tmp_path, log=lambda *a: None)
    real_step, calls = trainer.train_step, []

    def step_then_interrupt(batch):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_step(batch)

    monkeypatch.setattr(trainer, "train_step", step_then_interrupt)
    trainer.run(progress=False)
    ckpt = load_checkpoint(tmp_path / "latest")
    assert ckpt.meta["step"] == 4


@pytest.mark.slow  # trained
def test_commands_run_end_to_end(trained, tmp_path, capsys):
    run, _ = trained
    best = str(run / "best")
    assert cli.main(["translate", "--checkpoint", best, "i read books at home .",
                     "do you like cats ?"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("i read books at home .\t")
    assert cli.main(["translate", "--checkpoint", best, "--beam", "3", "i like tea ."]) == 0
    assert cli.main(["evaluate", "--checkpoint", best, "--limit", "20"]) == 0
    assert "BLEU" in capsys.readouterr().out
    figure = tmp_path / "att.png"
    code = cli.main(["attention", "--checkpoint", best, "--out", str(figure),
                     "i read books at home ."])
    assert code == 0 and figure.stat().st_size > 10_000
    if find_cjk_font() is None:  # the English-only panels are drawn, and the rest is named
        err = capsys.readouterr().err
        assert "left out decoder_self, cross" in err and "fonts-wqy-microhei" in err


@pytest.mark.slow  # trained
def test_attention_figure_has_a_panel_per_layer_and_head(trained):
    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    from tinytransformer.plot import plot_attention

    run, _ = trained
    model, vocabs, _ = load_translator(run / "best")
    translation, maps = attention_maps(model, vocabs, "i read books at home .")
    fig = plot_attention(maps)
    layers, heads = 1, 2
    assert len(fig.axes) == 3 * layers * heads + 1  # and one colour bar
    cross = [ax for ax in fig.axes if ax.get_title().startswith("cross-attention")][0]
    assert ([t.get_text() for t in cross.get_xticklabels()]
            == ["i", "read", "books", "at", "home", "."])
    assert [t.get_text() for t in cross.get_yticklabels()][-1] == "<eos>"
    assert len(cross.get_yticklabels()) == len(maps["cross"][2])


def test_malformed_data_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("hello .\t你好。\njust one column\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2"):
        Trainer(tiny_config(data=str(bad)), tmp_path / "run")


@pytest.mark.slow  # builds the toy corpus, trains and evaluates twice: 3-8 s
def test_without_progress_bar_evaluations_go_through_log(tmp_path, capsys):
    lines = []
    Trainer(tiny_config(steps=4, eval_every=2), tmp_path, log=lines.append).run(progress=False)
    assert [line.split(":")[0] for line in lines] == ["step 2", "step 4"]
    assert capsys.readouterr().out == ""  # nothing printed past the caller's `log`
