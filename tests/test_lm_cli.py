"""`tinytransformer lm train | generate | perplexity` and `tokenize`, as a newcomer meets them:
bad values refused while parsing, bad input in one line with exit code 1 and nothing saved,
runs never overwritten silently, generation that streams what `generate` samples."""

import math
import shutil

import numpy as np
import pytest

from tinytransformer import cli
from tinytransformer.checkpoint import load_checkpoint
from tinytransformer.cli.lm import sliding_generate
from tinytransformer.data import fortunes
from tinytransformer.data.documents import encode_text, separator_id
from tinytransformer.generate import generate
from tinytransformer.lm_train import load_language_model
from tinytransformer.models import LanguageModel, LanguageModelConfig
from tinytransformer.tokenizers import train_bpe

from .test_cli import one_line_error
from .test_lm_train import write_poems

TINY = ["--d-model", "16", "--num-heads", "2", "--d-ff", "32", "--num-layers", "1",
        "--context", "16", "--batch-size", "8", "--no-progress"]


def train(data, run, *extra):
    return cli.main(["lm", "train", "--data", str(data), "--run", str(run), "--steps", "4",
                     "--eval-every", "2", *TINY, *extra])


@pytest.fixture(scope="module")
def poems(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "poems"
    write_poems(path)
    return path


@pytest.fixture(scope="module")
def run(poems, tmp_path_factory):
    run = tmp_path_factory.mktemp("lm") / "run"
    assert train(poems, run) == 0
    return run


PARSE_ERRORS = [
    (["lm", "train", "--steps", "0"], "argument --steps: must be a whole number >= 1, got 0"),
    (["lm", "train", "--tokenizer", "words"], "argument --tokenizer: must be one of chars, bpe"),
    (["lm", "train", "--vocab-size", "0"], "argument --vocab-size: must be a whole number >= 1"),
    (["lm", "train", "--context", "-1"], "argument --context: must be a whole number >= 1"),
    (["lm", "train", "--lr", "nan"], "argument --lr: must be a finite number > 0"),
    (["lm", "train", "--dropout", "1"], "argument --dropout: must be in [0, 1), got 1"),
    (["lm", "train", "--positional", "rope"], "argument --positional: must be one of learned"),
    (["lm", "train", "--resume", "--overwrite"], "not allowed with argument --resume"),
    (["lm", "generate", "--temperature", "-1"], "argument --temperature: must be a finite"),
    (["lm", "generate", "--top-p", "0"], "argument --top-p: must be a finite number > 0"),
    (["lm", "generate", "--top-p", "1.5"], "argument --top-p: must be in (0, 1], got 1.5"),
    (["lm", "generate", "--top-k", "0"], "argument --top-k: must be a whole number >= 1"),
    (["lm", "generate", "--max-new-tokens", "0"], "argument --max-new-tokens: must be a whole"),
    (["lm", "perplexity", "--split", "train"], "argument --split: invalid choice: 'train'"),
    (["lm"], "the following arguments are required: LM_COMMAND"),
    (["tokenize", "hi"], "the following arguments are required: --tokenizer"),
]


@pytest.mark.parametrize("argv, message", PARSE_ERRORS, ids=[" ".join(a) for a, _ in PARSE_ERRORS])
def test_bad_values_are_refused_while_parsing(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "contains NUL bytes, so it is binary"),
    (b"%\n\xff\xfe\x00\x01\n", "bad:2: not valid UTF-8"),
    ("一\n%\n二\n%\n三\n%\n".encode(), "fewer than one context of 16 + 1"),
])
def test_bad_input_is_one_line_and_saves_nothing(tmp_path, capsys, content, message):
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    line = one_line_error(capsys, train(bad, tmp_path / "run"))
    assert line.startswith("tinytransformer lm: error: ") and message in line
    assert not (tmp_path / "run" / "latest").exists()


def test_no_data_and_a_missing_package_say_what_to_do(tmp_path, capsys, monkeypatch):
    code = cli.main(["lm", "train", "--run", str(tmp_path / "run")])
    assert "--data is required" in one_line_error(capsys, code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fortunes, "FORTUNE_DIRS", ())
    line = one_line_error(capsys, train("tang300", tmp_path / "run"))
    assert "sudo apt-get install fortunes-zh" in line


def test_a_run_is_refused_then_resumed_with_warnings(run, poems, tmp_path, capsys):
    line = one_line_error(capsys, train(poems, run))
    assert "already holds a run (latest at step 4, best at step" in line
    assert "with valid PPL/char" in line
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert train(poems, copy, "--resume", "--steps", "6", "--lr", "0.1") == 0
    assert "keeps the run's --lr 0.003; ignoring 0.1" in capsys.readouterr().err
    assert load_checkpoint(copy / "latest").meta["step"] == 6


def test_train_reports_the_bigram_to_beat(poems, tmp_path, capsys):
    assert train(poems, tmp_path / "r", "--tokenizer", "bpe", "--vocab-size", "270") == 0
    out = capsys.readouterr().out
    assert "bpe tokenizer, 270 tokens" in out
    assert "to beat: a bigram model" in out and "best validation perplexity" in out


def test_missing_checkpoint_says_what_to_do(tmp_path, capsys):
    for argv in (["lm", "generate"], ["lm", "perplexity"], ["tokenize", "x", "--tokenizer"]):
        code = cli.main([*argv, str(tmp_path / "nothing")] if argv[0] == "tokenize"
                        else [*argv, "--checkpoint", str(tmp_path / "nothing")])
        assert "nothing" in one_line_error(capsys, code)


@pytest.mark.parametrize("flags", [[], ["--top-k", "3"], ["--top-p", "0.9"],
                                   ["--temperature", "0"]])
def test_generate_streams_what_generate_samples(run, capsys, flags):
    """The command's text is the tokens `generate` draws with the same seed (without the
    cache: the cached run must not change a single draw)."""
    argv = ["lm", "generate", "--checkpoint", str(run / "best"), "--seed", "3",
            "--max-new-tokens", "12", *flags, "xa"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    model, tok, _ = load_language_model(run / "best")
    sep = separator_id(tok)
    opts = dict(zip([f.lstrip("-").replace("-", "_") for f in flags[::2]],
                    [float(v) if "." in v or v == "0" else int(v) for v in flags[1::2]]))
    opts.setdefault("temperature", 0.8)
    ids = generate(model, [[sep, *encode_text(tok, "xa")]], 12, rng=np.random.default_rng(3),
                   eos_id=sep, use_cache=False, **opts)[0]
    assert out == "xa" + tok.decode(ids) + "\n"
    assert cli.main(argv) == 0 and capsys.readouterr().out == out  # the seed decides


def test_generation_goes_on_past_the_context_from_its_last_half():
    model = LanguageModel(LanguageModelConfig(vocab_size=9, d_model=8, num_heads=2, d_ff=16,
                                              num_layers=1, max_len=10, seed=0))
    prompt = [1, 2, 3]
    ids = sliding_generate(model, prompt, 30, np.random.default_rng(5))  # no eos: all 30
    first = generate(model, [prompt], 30, rng=np.random.default_rng(5))[0]  # stops at T = 10
    assert len(ids) == 30 and len(first) == 7 and ids[:7] == first
    rng = np.random.default_rng(5)
    generate(model, [prompt], 7, rng=rng)  # what the second window continues from, by hand
    window = (prompt + first)[-5:]
    assert ids[7:12] == generate(model, [window], 5, rng=rng)[0]


def test_generate_writes_samples_apart(run, capsys):
    argv = ["lm", "generate", "--checkpoint", str(run / "best"), "--seed", "0",
            "--max-new-tokens", "50", "--num-samples", "3"]
    assert cli.main(argv) == 0
    model, tok, _ = load_language_model(run / "best")
    sep, rng = separator_id(tok), np.random.default_rng(0)
    samples = [tok.decode(sliding_generate(model, [sep], 50, rng, eos_id=sep, temperature=0.8))
               for _ in range(3)]  # one after the other, from one generator
    assert capsys.readouterr().out == "\n\n".join(samples) + "\n"


def test_perplexity_of_a_file_and_of_the_run_split(run, poems, tmp_path, capsys):
    text = tmp_path / "more"
    write_poems(text, n=5, seed=1)
    assert cli.main(["lm", "perplexity", "--checkpoint", str(run / "best"),
                     "--file", str(text)]) == 0
    out = capsys.readouterr().out
    assert "5 documents" in out and "per character" in out
    ppl_char = float(out.split("perplexity ")[1].split(" per token, ")[1].split()[0])
    bits = float(out.split("(")[1].split()[0])
    assert bits == pytest.approx(math.log2(ppl_char), abs=2e-3)
    assert cli.main(["lm", "perplexity", "--checkpoint", str(run / "best")]) == 0
    meta = load_checkpoint(run / "best").meta
    n_test = meta["splits"]["test"]["documents"]
    assert f"the test split of {poems.resolve()}: {n_test} documents" in capsys.readouterr().out


def test_tokenize_shows_ids_and_pieces(run, tmp_path, capsys):
    tok = train_bpe("low lower lowest " * 20 + "床床明月光" * 5, num_merges=30)
    path = tok.save(tmp_path / "tok.json")
    assert cli.main(["tokenize", "--tokenizer", str(path), "lowest 床前"]) == 0
    out = capsys.readouterr().out.splitlines()
    ids = tok.encode("lowest 床前")
    assert out[0] == f"'lowest 床前': {len(ids)} tokens, 9 characters, 13 bytes"
    assert [int(line.split()[0]) for line in out[1:]] == ids
    pieces = [eval(line.split(maxsplit=1)[1]) for line in out[1:]]
    assert pieces == tok.tokens(ids) and "low" in pieces  # merged bytes are one piece
    assert pieces[-3:] == ["\\xe5", "\\x89", "\\x8d"]  # 前, never seen: its three bytes
    assert cli.main(["tokenize", "--tokenizer", str(run / "best"), "xab"]) == 0
    assert capsys.readouterr().out.count("\n") == 4
