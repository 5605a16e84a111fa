"""Training a translator: data, the loop, evaluation (loss and BLEU), checkpoints that resume.

    loss = CE(model(src, tgt_in), tgt_out)   (label-smoothed, padding ignored)
    lr   = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) * lr_factor   (the paper's schedule)

A run folder holds `latest/` and `best/` checkpoints (weights, optimizer state, vocabularies,
configs, RNG states and history), and `curves.png`. Resuming restores all of it and continues
with the batch it stopped before, so a resumed run computes the same losses as an
uninterrupted one. Ctrl-C saves `latest/` and returns. A new run never replaces an existing
one silently, and a step whose loss or gradient is not finite stops the run before the
optimizer touches the weights, so no NaN is ever saved (`runs.py`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from . import functional as F
from .checkpoint import load_checkpoint, save_checkpoint
from .data import DataError, Vocab, load_tsv, make_batches, split_pairs, toy_splits
from .data.tokenize import tokenize_en, tokenize_zh
from .models import Transformer, TransformerConfig
from .models.config import known_fields
from .nn import inference
from .optim import AdamW, clip_grad_norm, noam_lr
from .runs import clear_run, data_changed, fingerprint, open_run
from .translate import bleu, translate
from .values import (
    check_fields,
    nonnegative_float,
    option,
    positive_float,
    positive_int,
    probability,
)


@dataclass
class TrainConfig:
    """A training run's settings; the command line's flags are built from these fields."""

    data: str | None = option(None, "tab-separated sentence pairs (Tatoeba/Anki format); "
                                    "default: the built-in toy corpus")
    max_words: int = option(10, "--data: keep pairs of at most this many English tokens",
                            positive_int)
    valid_size: int | None = option(None, "--data: validation pairs (default: 5 percent of "
                                          "the pairs, at most 1000, at least 1)", positive_int)
    test_size: int | None = option(None, "--data: test pairs (default as --valid-size)",
                                   positive_int)
    steps: int = option(1500, "training steps", positive_int)
    minutes: float | None = option(None, "stop after this much wall time", positive_float)
    batch_size: int = option(64, "sentences per step", positive_int)
    lr_factor: float = option(1.0, "scales the learning-rate schedule", positive_float)
    warmup: int = option(400, "warm-up steps of the schedule", positive_int)
    weight_decay: float = option(0.0, "AdamW's decoupled weight decay", nonnegative_float)
    label_smoothing: float = option(0.1, "label smoothing of the training loss", probability)
    clip: float = option(1.0, "clip the gradient norm to this", positive_float)
    eval_every: int = option(500, "steps between evaluations and checkpoints", positive_int)
    eval_sentences: int = option(500, "validation sentences decoded for BLEU", positive_int)
    min_freq: int = option(1, "vocabulary threshold (occurrences)", positive_int)
    seed: int = option(0, "random seed (data order, weights, dropout)")
    model: dict = option({}, "TransformerConfig fields (d_model, num_heads, ...) other than "
                             "the vocabulary sizes, which come from the data")

    def __post_init__(self):
        check_fields(self)
        # the model fields are checked now, with stand-in vocabulary sizes, not after the data
        TransformerConfig(src_vocab=1, tgt_vocab=1, **known_fields(TransformerConfig, self.model))


@dataclass
class Corpus:
    splits: dict  # {"train" | "valid" | "test": [(english, chinese), ...]}
    src_vocab: Vocab
    tgt_vocab: Vocab

    def token_ids(self, split: str) -> tuple[list[list[int]], list[list[int]]]:
        """(source ids, target ids) of a split, as the vocabularies encode its sentences."""
        pairs = self.splits[split]
        return ([self.src_vocab.encode(tokenize_en(en)) for en, _ in pairs],
                [self.tgt_vocab.encode(tokenize_zh(zh)) for _, zh in pairs])


def held_out_size(n_pairs: int) -> int:
    """Validation (and test) pairs held out of n: 5 %, at most 1000, at least 1."""
    return max(1, min(1000, round(0.05 * n_pairs)))


def load_corpus(cfg: TrainConfig, vocabs: tuple[Vocab, Vocab] | None = None) -> Corpus:
    """The toy corpus or a TSV file, split, with vocabularies built on the training part."""
    if cfg.data is None:
        splits = toy_splits(seed=cfg.seed)
    else:
        pairs = load_tsv(cfg.data, max_len=cfg.max_words)
        n_valid = cfg.valid_size or held_out_size(len(pairs))
        n_test = cfg.test_size or held_out_size(len(pairs))
        if len(pairs) < n_valid + n_test + 1:
            raise DataError(f"{cfg.data}: {len(pairs)} pairs of at most {cfg.max_words} English "
                            f"words, too few to hold out {n_valid} for validation and {n_test} "
                            f"for test and train on the rest")
        splits = split_pairs(pairs, n_valid=n_valid, n_test=n_test, seed=cfg.seed)
    if vocabs is None:
        train = splits["train"]
        vocabs = (Vocab.build((tokenize_en(en) for en, _ in train), min_freq=cfg.min_freq),
                  Vocab.build((tokenize_zh(zh) for _, zh in train), min_freq=cfg.min_freq))
    return Corpus(splits, *vocabs)


def evaluate_loss(model, batches, label_smoothing: float) -> float:
    """Mean cross-entropy per target token over `batches`, without dropout."""
    total, count = 0.0, 0
    with inference(model):
        for b in batches:
            logits = model(b.src, b.tgt_in)
            loss = F.cross_entropy(logits, b.tgt_out, ignore_index=model.config.pad_id,
                                   label_smoothing=label_smoothing, reduction="sum")
            total, count = total + loss.item(), count + b.n_tgt_tokens
    return total / max(count, 1)


class NonFiniteError(FloatingPointError):
    """A training step produced a NaN or Inf loss or gradient; nothing of it was saved."""


class Trainer:
    """Holds a run: model, optimizer, data, counters; `run()` trains, `save()` checkpoints.

    `resume` continues `run_dir/latest`; otherwise an existing run in `run_dir` is refused
    unless `overwrite` (then its checkpoints are deleted once the new run is ready to start).
    """

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, resume: bool = False,
                 overwrite: bool = False, log=print):
        self.run_dir, self.log = Path(run_dir), log
        latest = open_run(self.run_dir, resume, overwrite)
        ckpt = load_checkpoint(latest) if latest else None
        if ckpt is not None:  # the run's own config; only how long to go on is the caller's
            cfg = replace(TrainConfig(**ckpt.meta["train_config"]), steps=cfg.steps,
                          minutes=cfg.minutes)
            vocabs = tuple(Vocab.from_json(ckpt.meta[k]) for k in ("src_vocab", "tgt_vocab"))
            self.data_file = ckpt.meta.get("data_file")
            if (warning := data_changed(self.data_file)) is not None:
                log(f"warning: {warning}")
        elif cfg.data is not None:  # remembered by absolute path and hash: runs from anywhere
            self.data_file = fingerprint(cfg.data)
            cfg = replace(cfg, data=self.data_file["path"])
        else:
            self.data_file = None
        self.cfg = cfg
        self.corpus = load_corpus(cfg, vocabs if ckpt else None)
        mc = {"seed": cfg.seed, **cfg.model, "src_vocab": len(self.corpus.src_vocab),
              "tgt_vocab": len(self.corpus.tgt_vocab)}
        self.model = Transformer(TransformerConfig.from_dict(mc))
        self.opt = AdamW(self.model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9,
                         weight_decay=cfg.weight_decay)
        self.step, self.history, self.best_bleu = 0, [], -1.0
        self.train_ids = self.corpus.token_ids("train")
        self.valid_ids = self.corpus.token_ids("valid")
        self.valid_batches = make_batches(*self.valid_ids, batch_size=100)
        if ckpt is not None:
            self._restore(ckpt)
            log(f"resumed {latest} at step {self.step}")
        elif overwrite:
            clear_run(self.run_dir)

    # -- checkpoints ---------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"train_config": asdict(self.cfg), "model_config": self.model.config.to_dict(),
                "src_vocab": self.corpus.src_vocab.to_json(),
                "tgt_vocab": self.corpus.tgt_vocab.to_json(), "step": self.step,
                "rng": self.model.rng.bit_generator.state, "history": self.history,
                "best_bleu": self.best_bleu, "data_file": self.data_file,
                "best": {"name": "valid BLEU", "value": self.best_bleu}}

    def save(self, name: str) -> Path:
        return save_checkpoint(self.run_dir / name, self.model.state_dict(), self.meta(),
                               optimizer=self.opt.state_dict())

    def _restore(self, ckpt) -> None:
        self.model.load_state_dict(ckpt.tensors)
        self.opt.load_state_dict(ckpt.optimizer)
        self.step, self.history = ckpt.meta["step"], ckpt.meta["history"]
        self.best_bleu = ckpt.meta["best_bleu"]
        self.model.rng.bit_generator.state = ckpt.meta["rng"]

    # -- the loop ------------------------------------------------------------------------------
    def batches_from(self, step: int):
        """The batches from global step `step` on: epoch e is shuffled by (seed, e)."""
        while True:
            per_epoch = len(make_batches(*self.train_ids, batch_size=self.cfg.batch_size))
            epoch, skip = divmod(step, per_epoch)
            rng = np.random.default_rng([self.cfg.seed, epoch])
            yield from make_batches(*self.train_ids, batch_size=self.cfg.batch_size, rng=rng)[skip:]
            step = (epoch + 1) * per_epoch

    def train_step(self, batch) -> float:
        cfg, model = self.cfg, self.model
        logits = model(batch.src, batch.tgt_in)  # [B, T, V]
        loss = F.cross_entropy(logits, batch.tgt_out, ignore_index=model.config.pad_id,
                               label_smoothing=cfg.label_smoothing)
        self.opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm(self.model.parameters(), cfg.clip)
        lr = cfg.lr_factor * noam_lr(self.step + 1, model.config.d_model, cfg.warmup)
        if not (math.isfinite(loss.item()) and math.isfinite(norm)):
            raise NonFiniteError(self._non_finite(loss.item(), norm, lr))
        self.step += 1
        self.opt.lr = lr
        self.opt.step()
        return loss.item()

    def _non_finite(self, loss: float, norm: float, lr: float) -> str:
        saved = [h["step"] for h in self.history if "valid_loss" in h]  # checkpointed steps
        last = (f"the last good checkpoint is {self.run_dir / 'latest'} (step {saved[-1]})"
                if saved else "no checkpoint was saved yet")
        return (f"step {self.step + 1}: loss {loss:.4g}, gradient norm {norm:.4g} at learning "
                f"rate {lr:.3g}: stopped before updating the weights; {last}. A lower "
                f"--lr-factor or a longer --warmup usually helps")

    def evaluate(self) -> dict:
        n = self.cfg.eval_sentences
        pairs = self.corpus.splits["valid"][:n]
        hyps = translate(self.model, (self.corpus.src_vocab, self.corpus.tgt_vocab),
                         [en for en, _ in pairs])
        return {"step": self.step,
                "valid_loss": evaluate_loss(self.model, self.valid_batches, 0.0),
                "valid_bleu": bleu(hyps, [zh for _, zh in pairs])}

    def run(self, progress: bool = True) -> list[dict]:
        """Train until `steps` (or `minutes`); evaluate and checkpoint every `eval_every`."""
        from tqdm import tqdm

        from .plot import save_curves

        cfg, start = self.cfg, time.perf_counter()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not progress, unit="step",
                   dynamic_ncols=True)
        try:
            self.model.train()
            for batch in self.batches_from(self.step):
                if self.step >= cfg.steps or (cfg.minutes and
                                              time.perf_counter() - start > 60 * cfg.minutes):
                    break
                t0 = time.perf_counter()
                loss = self.train_step(batch)
                self.history.append({"step": self.step, "train_loss": loss})
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.opt.lr:.2e}",
                                tok_s=f"{batch.n_tgt_tokens / (time.perf_counter() - t0):.0f}")
                if self.step % cfg.eval_every == 0:
                    self._checkpoint(bar if progress else None)
                    save_curves(self.history, self.run_dir / "curves.png")
        except KeyboardInterrupt:
            bar.close()
            self.log(f"interrupted at step {self.step}: saved {self.save('latest')}")
            return self.history
        finally:
            bar.close()
        if self.step % cfg.eval_every:
            self._checkpoint(None)
        save_curves(self.history, self.run_dir / "curves.png")
        return self.history

    def _checkpoint(self, bar) -> None:
        result = self.evaluate()
        self.history.append(result)
        self.model.train()
        improved = result["valid_bleu"] > self.best_bleu
        if improved:
            self.best_bleu = result["valid_bleu"]
            self.save("best")
        self.save("latest")
        (bar.write if bar else self.log)(  # above the bar, or through `log` when there is none
            f"step {self.step}: valid loss {result['valid_loss']:.3f}, "
            f"BLEU {result['valid_bleu']:.1f}{' (best)' if improved else ''}")

