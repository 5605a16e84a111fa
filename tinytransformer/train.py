"""Training a translator: data, the loss, the schedule, evaluation (loss and BLEU).

    loss = CE(model(src, tgt_in), tgt_out)   (label-smoothed, padding ignored)
    lr   = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) * lr_factor   (the paper's schedule)

The loop itself (steps or minutes, evaluation, `latest/` and `best/` checkpoints, Ctrl-C, the
NaN guard, resume equal to an uninterrupted run) is `loop.TrainingRun`, shared with the
language model's trainer (`lm_train.py`); the run folder's rules are in `runs.py`. A
checkpoint here also holds the two vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import functional as F
from .data import DataError, Vocab, load_tsv, make_batches, split_pairs, toy_splits
from .data.documents import held_out_size
from .data.tokenize import tokenize_en, tokenize_zh
from .loop import NonFiniteError, TrainingRun
from .models import Transformer, TransformerConfig
from .models.config import known_fields
from .nn import inference
from .optim import AdamW, noam_lr
from .translate import bleu, translate
from .values import (
    check_fields,
    nonnegative_float,
    option,
    positive_float,
    positive_int,
    probability,
)

__all__ = ["TrainConfig", "Trainer", "Corpus", "load_corpus", "held_out_size", "evaluate_loss",
           "NonFiniteError"]  # NonFiniteError lives in loop.py; importable here as before


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


class Trainer(TrainingRun):
    """The translator's run (`loop.TrainingRun` holds the loop, checkpoints and resume):
    `run()` trains, `save()` checkpoints, `best/` is the checkpoint of the best valid BLEU.

    `resume` continues `run_dir/latest`; otherwise an existing run in `run_dir` is refused
    unless `overwrite` (then its checkpoints are deleted once the new run is ready to start).
    """

    score_key, score_name = "valid_bleu", "valid BLEU"
    lr_hint = "A lower --lr-factor or a longer --warmup usually helps"

    def build(self, ckpt) -> None:
        cfg = self.cfg
        vocabs = (tuple(Vocab.from_json(ckpt.meta[k]) for k in ("src_vocab", "tgt_vocab"))
                  if ckpt is not None else None)
        self.corpus = load_corpus(cfg, vocabs)
        mc = {"seed": cfg.seed, **cfg.model, "src_vocab": len(self.corpus.src_vocab),
              "tgt_vocab": len(self.corpus.tgt_vocab)}
        self.model = Transformer(TransformerConfig.from_dict(mc))
        self.opt = AdamW(self.model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9,
                         weight_decay=cfg.weight_decay)
        self.train_ids = self.corpus.token_ids("train")
        self.valid_ids = self.corpus.token_ids("valid")
        self.valid_batches = make_batches(*self.valid_ids, batch_size=100)

    @property
    def best_bleu(self) -> float:
        """The best validation BLEU so far (-1 before the first evaluation)."""
        return -1.0 if self.best is None else self.best

    def meta(self) -> dict:
        return {**super().meta(), "src_vocab": self.corpus.src_vocab.to_json(),
                "tgt_vocab": self.corpus.tgt_vocab.to_json(), "best_bleu": self.best_bleu}

    def batches_from(self, step: int):
        """The batches from global step `step` on: epoch e is shuffled by (seed, e)."""
        while True:
            per_epoch = len(make_batches(*self.train_ids, batch_size=self.cfg.batch_size))
            epoch, skip = divmod(step, per_epoch)
            rng = np.random.default_rng([self.cfg.seed, epoch])
            yield from make_batches(*self.train_ids, batch_size=self.cfg.batch_size, rng=rng)[skip:]
            step = (epoch + 1) * per_epoch

    def loss(self, batch):
        logits = self.model(batch.src, batch.tgt_in)  # [B, T, V]
        return F.cross_entropy(logits, batch.tgt_out, ignore_index=self.model.config.pad_id,
                               label_smoothing=self.cfg.label_smoothing)

    def learning_rate(self, step: int) -> float:
        return self.cfg.lr_factor * noam_lr(step, self.model.config.d_model, self.cfg.warmup)

    def batch_tokens(self, batch) -> int:
        return batch.n_tgt_tokens

    def evaluate(self) -> dict:
        n = self.cfg.eval_sentences
        pairs = self.corpus.splits["valid"][:n]
        hyps = translate(self.model, (self.corpus.src_vocab, self.corpus.tgt_vocab),
                         [en for en, _ in pairs])
        return {"step": self.step,
                "valid_loss": evaluate_loss(self.model, self.valid_batches, 0.0),
                "valid_bleu": bleu(hyps, [zh for _, zh in pairs])}

    def describe(self, result: dict) -> str:
        return f"valid loss {result['valid_loss']:.3f}, BLEU {result['valid_bleu']:.1f}"

    def save_curves(self) -> None:
        from .plot import save_curves

        save_curves(self.history, self.run_dir / "curves.png")
