"""The language model's data and training: documents and splits of any text file, token streams
and windows, perplexity per character, the bigram baseline, and a run with the translator's
guarantees (resume equals an uninterrupted run, Ctrl-C keeps latest/, no NaN saved)."""

import math
from collections import Counter

import numpy as np
import pytest

from tinytransformer import functional as F
from tinytransformer.checkpoint import load_checkpoint
from tinytransformer.data import DataError
from tinytransformer.data.documents import (
    eval_windows,
    load_text_corpus,
    random_windows,
    read_documents,
    split_documents,
    to_stream,
    train_tokenizer,
)
from tinytransformer.lm_train import LMTrainConfig, LMTrainer, score_stream
from tinytransformer.models import LanguageModel, LanguageModelConfig
from tinytransformer.ngram import best_bigram, bigram_nll
from tinytransformer.nn import inference

TINY = {"d_model": 16, "num_heads": 2, "d_ff": 32, "num_layers": 1}


def quiet(*args):
    pass


def write_poems(path, n=60, seed=0):
    """A fortune file of n short 'poems' over a small alphabet, in a fixed pattern: after "a"
    comes "b" if the character before was "x", "c" if it was "z" (a bigram cannot know)."""
    rng = np.random.default_rng(seed)
    poems = ["\n".join("".join(rng.choice(["xab", "zac"], 3)) + "。" for _ in range(4))
             for _ in range(n)]
    path.write_text("\n%\n".join(poems) + "\n%\n", encoding="utf-8")
    return poems


@pytest.fixture
def poems_file(tmp_path):
    path = tmp_path / "poems"
    write_poems(path)
    return path


def config(path, **overrides):
    return LMTrainConfig(**{"data": str(path), "context": 16, "batch_size": 8, "steps": 12,
                            "eval_every": 6, "warmup": 4, "model": TINY, **overrides})


# -- documents and splits ------------------------------------------------------------------------

def test_documents_are_fortune_entries_paragraphs_or_lines(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("\x1b[32mA\x1b[m\nb\n%\nc\n%\n", encoding="utf-8")
    assert read_documents(f) == ["A\nb", "c"]
    f.write_text("\n\n".join(f"para {i}\nline two" for i in range(20)), encoding="utf-8")
    assert read_documents(f)[:2] == ["para 0\nline two", "para 1\nline two"]
    f.write_text("one\n\ntwo\nthree\n", encoding="utf-8")  # few paragraphs: the lines
    assert read_documents(f) == ["one", "two", "three"]


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b" \n\n\t\n", "the file is empty"),
    (b"ab\x00\x01cd\n", "contains NUL bytes, so it is binary"),
    (b"good\n\x89PNG\r\n", "t.bin:2: not valid UTF-8"),
])
def test_empty_and_binary_files_are_refused_by_name(tmp_path, content, message):
    f = tmp_path / "t.bin"
    f.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_documents(f)


def test_splits_are_whole_documents_drawn_by_seed():
    docs = [f"doc {i}" for i in range(100)]
    parts = split_documents(docs, seed=0)
    assert {k: len(v) for k, v in parts.items()} == {"valid": 5, "test": 5, "train": 90}
    assert sorted(sum(parts.values(), [])) == sorted(docs)
    assert parts == split_documents(docs, seed=0) and parts != split_documents(docs, seed=1)
    assert parts["valid"] != docs[:5]  # drawn, not the file's first ones
    with pytest.raises(DataError, match="2 document"):
        split_documents(["a", "b"], seed=0)


@pytest.mark.parametrize("kind", ["chars", "bpe"])
def test_the_stream_spells_the_documents_between_separators(kind):
    docs = ["床前明月光，疑是地上霜。", "hello <|endoftext|> world", "举头望明月"]
    tok = train_tokenizer(kind, docs, 300 if kind == "bpe" else None)
    stream = to_stream(tok, docs)
    sep = stream[0]
    cuts = np.flatnonzero(stream == sep)
    assert len(cuts) == len(docs) + 1
    assert [tok.decode(stream[a + 1:b]) for a, b in zip(cuts, cuts[1:])] == docs


def test_a_file_smaller_than_one_context_is_refused(poems_file):
    with pytest.raises(DataError, match="fewer than one context of 4096"):
        load_text_corpus(poems_file, context=4096)


# -- windows -------------------------------------------------------------------------------------

def test_eval_windows_predict_every_next_token_once():
    stream = np.arange(103)
    windows = eval_windows(stream, T=10, batch_size=4)
    xs = np.concatenate([x.ravel() for x, _ in windows])
    ys = np.concatenate([y.ravel() for _, y in windows])
    np.testing.assert_array_equal(xs, stream[:-1])
    np.testing.assert_array_equal(ys, stream[1:])
    assert [x.shape for x, _ in windows] == [(4, 10), (4, 10), (2, 10), (1, 2)]


def test_random_windows_are_slices_shifted_by_one():
    stream = np.arange(50) * 3
    x, y = random_windows(stream, 8, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8)
    np.testing.assert_array_equal(y, x + 3)  # the next element of the stream
    assert (np.diff(x, axis=1) == 3).all()


# -- perplexity and the bigram baseline -----------------------------------------------------------

def test_score_stream_is_the_nll_of_each_next_token_over_the_characters():
    cfg = LanguageModelConfig(vocab_size=7, d_model=8, num_heads=2, d_ff=16, num_layers=1,
                              max_len=32, dtype="float64", seed=1)
    model = LanguageModel(cfg)
    stream = np.random.default_rng(0).integers(0, 7, 20)
    with inference(model):
        logits = model(stream[None, :-1]).data[0]  # one window holds it all: [19, V]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -log_p[np.arange(19), stream[1:]].sum()
    r = score_stream(model, stream, chars=25)
    assert r["tokens"] == 19
    assert r["ppl"] == pytest.approx(math.exp(nll / 19), rel=1e-9)
    assert r["ppl_char"] == pytest.approx(math.exp(nll / 25), rel=1e-9)


def test_bigram_nll_counts_pairs():
    rng = np.random.default_rng(0)
    train, held_out, V, k = rng.integers(0, 5, 300), rng.integers(0, 6, 40), 6, 0.1
    pairs, firsts = Counter(zip(train[:-1], train[1:])), Counter(train[:-1])
    expected = -sum(math.log((pairs[a, b] + k) / (firsts[a] + k * V))
                    for a, b in zip(held_out[:-1], held_out[1:]))
    assert bigram_nll(train, held_out, V, k) == pytest.approx(expected, rel=1e-12)
    best_k, nll = best_bigram(train, held_out, V)
    assert nll == min(bigram_nll(train, held_out, V, k) for k in (1, .3, .1, .03, .01, .003, .001))


# -- the run -------------------------------------------------------------------------------------

def losses(history):
    return [h["train_loss"] for h in history if "train_loss" in h]


def interrupt_at(trainer, monkeypatch, calls_before):
    """Ctrl-C in the middle of the run: the call after `calls_before` steps raises it."""
    real_step, calls = trainer.train_step, []

    def step_then_interrupt(batch):
        calls.append(1)
        if len(calls) > calls_before:
            raise KeyboardInterrupt
        return real_step(batch)

    monkeypatch.setattr(trainer, "train_step", step_then_interrupt)


@pytest.mark.slow  # three runs of 12 steps, with evaluations: 5-15 s each tokenizer
@pytest.mark.parametrize("tokenizer", ["chars", "bpe"])
def test_resume_reproduces_an_uninterrupted_run(poems_file, tmp_path, monkeypatch, tokenizer):
    """Stopped by Ctrl-C at step 7 (one evaluation behind it), resumed with the same --steps:
    the same batches, dropout masks and learning rates (the cosine spans --steps)."""
    cfg = config(poems_file, tokenizer=tokenizer, vocab_size=280 if tokenizer == "bpe" else None)
    whole = LMTrainer(cfg, tmp_path / "a", log=quiet)
    whole.run(progress=False)
    first = LMTrainer(cfg, tmp_path / "b", log=quiet)
    interrupt_at(first, monkeypatch, 7)
    first.run(progress=False)
    resumed = LMTrainer(cfg, tmp_path / "b", resume=True, log=quiet)
    assert resumed.step == 7
    resumed.run(progress=False)
    assert losses(resumed.history) == losses(whole.history)
    assert resumed.tokenizer.to_json() == whole.tokenizer.to_json()


@pytest.mark.slow  # 9 steps and 3 evaluations: 3-6 s
def test_best_is_the_lowest_validation_perplexity_per_character(poems_file, tmp_path):
    trainer = LMTrainer(config(poems_file, steps=9, eval_every=3), tmp_path, log=quiet)
    trainer.run(progress=False)
    evals = [h for h in trainer.history if "valid_ppl_char" in h]
    best = min(evals, key=lambda h: h["valid_ppl_char"])
    meta = load_checkpoint(tmp_path / "best").meta
    assert meta["step"] == best["step"]
    assert meta["best"] == {"name": "valid PPL/char", "value": best["valid_ppl_char"]}
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_ctrl_c_saves_latest_and_stops(poems_file, tmp_path, monkeypatch):
    trainer = LMTrainer(config(poems_file, steps=100), tmp_path, log=quiet)
    interrupt_at(trainer, monkeypatch, 4)
    trainer.run(progress=False)
    assert load_checkpoint(tmp_path / "latest").meta["step"] == 4


def test_a_nan_stops_training_and_is_never_saved(poems_file, tmp_path):
    trainer = LMTrainer(config(poems_file, steps=10, eval_every=2), tmp_path, log=quiet)
    real_step = trainer.train_step

    def poisoned(batch):
        if trainer.step == 3:
            trainer.model.parameters()[0].data[0, 0] = np.nan
        return real_step(batch)

    trainer.train_step = poisoned
    with pytest.raises(FloatingPointError, match=r"step 4: loss nan.*latest \(step 2\)\. "
                                                 r"A lower --lr"):
        trainer.run(progress=False)
    for slot in ("latest", "best"):
        ckpt = load_checkpoint(tmp_path / slot)
        assert ckpt.meta["step"] == 2
        assert all(np.isfinite(a).all() for a in ckpt.tensors.values())


@pytest.mark.slow  # 150 steps of a tiny model: 5-15 s
def test_the_model_beats_the_bigram_where_context_decides(poems_file, tmp_path):
    """After "a" the next character is fixed by the one before: a bigram must guess."""
    trainer = LMTrainer(config(poems_file, steps=150, eval_every=150, lr=1e-2, warmup=20,
                               model={**TINY, "dropout": 0.0}), tmp_path, log=quiet)
    trainer.run(progress=False)
    c = trainer.corpus
    _, nll = best_bigram(c.streams["train"], c.streams["valid"], trainer.tokenizer.vocab_size)
    assert trainer.best < 0.9 * math.exp(nll / c.chars["valid"])


def test_config_checks_tokenizer_vocab_and_model():
    with pytest.raises(ValueError, match="tokenizer must be one of chars, bpe"):
        LMTrainConfig(data="x", tokenizer="words")
    with pytest.raises(ValueError, match="too small for bpe"):
        LMTrainConfig(data="x", tokenizer="bpe", vocab_size=200)
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        LMTrainConfig(data="x", model={"num_heads": 3})


def test_the_loss_is_next_token_cross_entropy(poems_file, tmp_path):
    trainer = LMTrainer(config(poems_file), tmp_path, log=quiet)
    x, y = next(trainer.batches_from(0))
    with inference(trainer.model):
        expected = F.cross_entropy(trainer.model(x), y).item()
        assert trainer.loss((x, y)).item() == pytest.approx(expected)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
