"""The command line a newcomer meets: bad values refused while parsing, every input error in one
line with exit code 1 and nothing lost, runs that are never overwritten silently, a NaN that is
never saved, and small data files that train."""

import os
import shutil

import numpy as np
import pytest

from tinytransformer import cli
from tinytransformer.checkpoint import load_checkpoint
from tinytransformer.data import SAMPLE_TSV
from tinytransformer.train import TrainConfig, Trainer

TINY = ["--d-model", "16", "--num-heads", "2", "--d-ff", "32", "--num-encoder-layers", "1",
        "--num-decoder-layers", "1", "--batch-size", "16", "--eval-sentences", "4",
        "--no-progress"]


def train(run, *extra):
    return cli.main(["train", "--data", str(SAMPLE_TSV), "--run", str(run), "--steps", "4",
                     "--eval-every", "2", *TINY, *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run trained on the shipped 40-pair sample (too small before: 1000 + 1000 held out)."""
    run = tmp_path_factory.mktemp("cli") / "run"
    assert train(run) == 0
    return run


def one_line_error(capsys, code, expected_code=1):
    err = capsys.readouterr().err
    assert code == expected_code, err
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


PARSE_ERRORS = [  # argv, what the message must say; argparse exits with 2
    (["train", "--steps", "0"], "argument --steps: must be a whole number >= 1, got 0"),
    (["train", "--eval-every", "0"], "argument --eval-every: must be a whole number >= 1"),
    (["train", "--batch-size", "-3"], "argument --batch-size: must be a whole number >= 1"),
    (["train", "--minutes", "0"], "argument --minutes: must be a finite number > 0, got 0"),
    (["train", "--lr-factor", "nan"], "argument --lr-factor: must be a finite number > 0"),
    (["train", "--lr-factor", "inf"], "argument --lr-factor: must be a finite number > 0"),
    (["train", "--lr", "nan"], "unrecognized arguments: --lr nan"),  # no abbreviations
    (["train", "--dropout", "1"], "argument --dropout: must be in [0, 1), got 1"),
    (["train", "--resume", "--overwrite"], "not allowed with argument --resume"),
    (["translate", "--beam", "0", "hi ."], "argument --beam: must be a whole number >= 1"),
    (["evaluate", "--limit", "0"], "argument --limit: must be a whole number >= 1, got 0"),
    (["attention", "--kinds", "bogus", "hi ."], "unknown kind bogus; choose from encoder_self"),
]


@pytest.mark.parametrize("argv, message", PARSE_ERRORS, ids=[" ".join(a) for a, _ in PARSE_ERRORS])
def test_bad_values_are_refused_while_parsing(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint_says_what_to_do(tmp_path, capsys):
    for command in (["translate", "hi ."], ["evaluate"], ["attention", "hi ."]):
        code = cli.main([*command, "--checkpoint", str(tmp_path / "nothing")])
        line = one_line_error(capsys, code)
        assert line.startswith(f"tinytransformer {command[0]}: error: ")
        assert "run `tinytransformer train` first, or pass --checkpoint DIR" in line


def test_training_again_into_a_run_refuses_and_keeps_it(run, capsys):
    before = (run / "best" / "model.safetensors").read_bytes()
    line = one_line_error(capsys, train(run))
    assert "already holds a run (latest at step 4, best at step" in line
    assert "--resume" in line and "--run DIR" in line and "--overwrite" in line
    assert (run / "best" / "model.safetensors").read_bytes() == before


def test_overwrite_replaces_the_run(tmp_path, capsys):
    assert train(tmp_path / "r", "--steps", "2") == 0
    assert train(tmp_path / "r", "--overwrite", "--seed", "1") == 0
    meta = load_checkpoint(tmp_path / "r" / "latest").meta
    assert meta["step"] == 4 and meta["train_config"]["seed"] == 1


def test_resume_with_nothing_to_resume_is_an_error(tmp_path, capsys):
    line = one_line_error(capsys, train(tmp_path / "empty", "--resume"))
    assert "nothing to resume" in line and "without --resume" in line


def test_resume_warns_about_options_it_ignores(run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert train(copy, "--resume", "--steps", "6", "--lr-factor", "3", "--d-model", "32") == 0
    err = capsys.readouterr().err
    assert "keeps the run's --lr-factor 1.0; ignoring 3.0" in err
    assert "keeps the run's --d-model 16; ignoring 32" in err
    assert load_checkpoint(copy / "latest").meta["step"] == 6


def test_resume_after_a_crash_between_the_two_renames(run, tmp_path):
    """Only the backup of `latest` is on disk: resume continues from it, not from step 0."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    os.replace(copy / "latest", copy / f".latest.old-{0:020d}-1")
    best = (copy / "best" / "model.safetensors").read_bytes()
    assert train(copy, "--resume", "--steps", "6") == 0
    assert load_checkpoint(copy / "latest").meta["step"] == 6
    history = load_checkpoint(copy / "latest").meta["history"]
    assert [h["step"] for h in history if "train_loss" in h] == [1, 2, 3, 4, 5, 6]
    assert not list(copy.glob(".latest.old-*"))
    assert (copy / "best").exists() and len(best) > 0


def test_a_nan_stops_training_and_is_never_saved(tmp_path):
    cfg = TrainConfig(data=str(SAMPLE_TSV), steps=10, eval_every=2, eval_sentences=4,
                      batch_size=16, model={"d_model": 16, "num_heads": 2, "d_ff": 32,
                                            "num_encoder_layers": 1, "num_decoder_layers": 1})
    trainer = Trainer(cfg, tmp_path, log=lambda *a: None)
    real_step = trainer.train_step

    def poisoned(batch):
        if trainer.step == 3:  # after the checkpoint at step 2, a weight turns NaN
            trainer.model.parameters()[0].data[0, 0] = np.nan
        return real_step(batch)

    trainer.train_step = poisoned
    with pytest.raises(FloatingPointError, match=r"step 4: loss nan.*stopped before updating "
                                                 r"the weights; the last good checkpoint is "
                                                 r".*latest \(step 2\)"):
        trainer.run(progress=False)
    for slot in ("latest", "best"):
        ckpt = load_checkpoint(tmp_path / slot)
        assert ckpt.meta["step"] == 2
        assert all(np.isfinite(a).all() for a in ckpt.tensors.values())


def test_unwritable_run_folder_is_refused_before_step_one(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    line = one_line_error(capsys, train(tmp_path / "file" / "run"))
    assert "cannot write checkpoints there" in line
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "best").write_text("my notes")  # something that is not a checkpoint
    line = one_line_error(capsys, train(tmp_path / "r"))
    assert "already holds a run (best (unreadable))" in line
    assert "is not a checkpoint directory; refusing to replace it" in one_line_error(
        capsys, train(tmp_path / "r", "--overwrite"))
    assert (tmp_path / "r" / "best").read_text() == "my notes"


@pytest.mark.parametrize("content, message", [
    ("hello .\t你好。\njust one column\n", "bad.tsv:2: expected 2 or 3 tab-separated columns"),
    ("hello .\t你好。\nbye .\t再见。\n", "2 pairs of at most 10 words in column 1, too few"),
    (b"ok .\t\xe5\xa5\xbd\xe3\x80\x82\n\xff\tx\n", "bad.tsv:2: not valid UTF-8"),
    ("", "0 pairs"),
])
def test_bad_data_files_name_the_file(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = cli.main(["train", "--data", str(bad), "--run", str(tmp_path / "run"), *TINY])
    assert message in one_line_error(capsys, code)
    assert not (tmp_path / "run" / "latest").exists()


def test_missing_data_file_and_bad_model_config(tmp_path, capsys):
    code = cli.main(["train", "--data", str(tmp_path / "nope.tsv"), "--run", str(tmp_path)])
    assert "nope.tsv: No such file or directory" in one_line_error(capsys, code)
    code = cli.main(["train", "--num-heads", "3", "--run", str(tmp_path)])
    assert "d_model=128 is not divisible by num_heads=3" in one_line_error(capsys, code)


def test_tampered_checkpoint_is_refused(run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run / "best", copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    code = cli.main(["translate", "--checkpoint", str(copy), "hi ."])
    assert "SHA-256 mismatch" in one_line_error(capsys, code)


def test_splits_are_sized_from_the_data(run, capsys):
    meta = load_checkpoint(run / "latest").meta
    assert meta["data_file"]["path"] == str(SAMPLE_TSV.resolve())
    cfg = TrainConfig(**meta["train_config"])
    from tinytransformer.train import held_out_size, load_corpus

    sizes = {k: len(v) for k, v in load_corpus(cfg).splits.items()}
    assert sizes == {"train": 36, "valid": 2, "test": 2}
    assert [held_out_size(n) for n in (1, 40, 3000, 20_000, 10**6)] == [1, 2, 150, 1000, 1000]


def test_evaluate_works_from_another_folder_and_warns_when_the_data_changed(
        run, tmp_path, monkeypatch, capsys):
    data = tmp_path / "pairs.tsv"
    shutil.copy(SAMPLE_TSV, data)
    assert train(tmp_path / "r", "--data", str(data)) == 0
    monkeypatch.chdir(tmp_path.parent)
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "r" / "best")]) == 0
    assert "2 sentences (test)" in capsys.readouterr().out
    data.write_text(data.read_text() + "one more .\t再一个。\n", encoding="utf-8")
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "r" / "best")]) == 0
    assert "has changed since training" in capsys.readouterr().err


def test_translate_keeps_blank_lines_and_warns_about_unknown_and_long_input(
        run, tmp_path, capsys):
    best = str(run / "best")
    assert cli.main(["translate", "--checkpoint", best, ""]) == 0
    assert capsys.readouterr().out == "\t\n"  # empty in, empty out
    lines = tmp_path / "in.txt"
    lines.write_text("hello .\n\nxyzzy plugh frobnicate .\n", encoding="utf-8")
    assert cli.main(["translate", "--checkpoint", best, "--file", str(lines)]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 3 and out[1] == "\t"
    assert "sentence 3: 3 of 4 words are not in the model's vocabulary" in captured.err
    long = " ".join(["hello"] * 300)
    assert cli.main(["translate", "--checkpoint", best, long]) == 0
    assert "has 300 tokens; the model reads at most 256, so it was cut there" in \
        capsys.readouterr().err
    lines.write_bytes(b"hello .\n\xff\n")
    code = cli.main(["translate", "--checkpoint", best, "--file", str(lines)])
    assert "in.txt:2: not valid UTF-8" in one_line_error(capsys, code)


def test_debug_variable_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTRANSFORMER_DEBUG", "1")
    with pytest.raises(cli.CommandError):
        cli.main(["translate", "--checkpoint", str(tmp_path / "nothing"), "hi ."])
