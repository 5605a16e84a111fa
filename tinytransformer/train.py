"""Training a translator: data, the loss, the schedule, evaluation (loss and BLEU).

    loss = CE(model(src, tgt_in), tgt_out)   (label-smoothed, padding ignored)
    lr   = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) * lr_factor   (the paper's schedule)

The loop itself (steps or minutes, evaluation, `latest/` and `best/` checkpoints, Ctrl-C, the
NaN guard, resume equal to an uninterrupted run) is `loop.TrainingRun`, shared with the
language model's trainer (`lm_train.py`); the run folder's rules are in `runs.py`. A
checkpoint here also holds the two vocabularies and the two sides (languages and tokenizers,
`data/languages.py`); the data and its splits are `data/corpus.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import functional as F
from .data import DataError, Vocab, make_batches
from .data.corpus import Corpus, load_corpus
from .data.documents import held_out_size
from .data.hsk import hsk_file, hsk_level
from .data.languages import Side, language, tokenizer_kind
from .loop import NonFiniteError, TrainingRun
from .nn import inference
from .optim import AdamW, noam_lr
from .seed_bands import band_message, find_band
from .translate import architecture, bleu, build_translator, translate, translator_config
from .values import (
    check_fields,
    nonnegative_float,
    option,
    positive_float,
    positive_int,
    probability,
)


def column(value) -> int:
    """A TSV column holding the source: 1 or 2."""
    n = positive_int(value)
    if n not in (1, 2):
        raise ValueError(f"must be 1 or 2 (a pair file has two columns), got {value}")
    return n


__all__ = ["TrainConfig", "Trainer", "Corpus", "load_corpus", "held_out_size", "evaluate_loss",
           "NonFiniteError"]  # NonFiniteError lives in loop.py; importable here as before


@dataclass
class TrainConfig:
    """A training run's settings; the command line's flags are built from these fields."""

    data: str | None = option(None, "tab-separated sentence pairs (Tatoeba/Anki format), or "
                                    "hsk (the hsk-sentences-audio package: pip install -e "
                                    "'.[hsk]'); default: the built-in toy corpus")
    src_lang: str = option("en", "source language, an ISO code (en, zh, fr, de, ...)", language)
    tgt_lang: str = option("zh", "target language (--reverse swaps the two)", language)
    src_tokenizer: str | None = option(None, "words, chars or bpe (default: chars for zh "
                                             "and ja, words otherwise)", tokenizer_kind)
    tgt_tokenizer: str | None = option(None, "as --src-tokenizer, for the target",
                                       tokenizer_kind)
    bpe_merges: int = option(1000, "merges learned for a bpe side", positive_int)
    source_column: int | None = option(None, "--data: the column (1 or 2) that holds the "
                                             "source (default: the one whose text reads as "
                                             "--src-lang, else 1)", column)
    max_words: int = option(10, "--data: keep pairs of at most this many tokens in column 1",
                            positive_int)
    valid_size: int | None = option(None, "--data: validation pairs (default: 5 percent of "
                                          "the pairs, at most 1000, at least 1)", positive_int)
    test_size: int | None = option(None, "--data: test pairs (default as --valid-size)",
                                   positive_int)
    curriculum: int | None = option(None, "--data hsk: train on HSK levels <= this first (for "
                                          "--curriculum-steps), then on all", hsk_level)
    curriculum_steps: int = option(500, "steps of the curriculum's first part", positive_int)
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
    arch: str = option("transformer", "transformer, rnn (a GRU encoder-decoder) or "
                                      "rnn-attention (with additive attention)", architecture)
    model: dict = option({}, "the model config's fields (TransformerConfig: d_model, "
                             "num_heads, ...; RNNConfig: d_model, dropout) other than the "
                             "vocabulary sizes, which come from the data")

    def __post_init__(self):
        check_fields(self)
        # the model fields are checked now, with stand-in vocabulary sizes, not after the data
        translator_config(self.arch, {**self.model, "src_vocab": 1, "tgt_vocab": 1})


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
        self.corpus = self.make_corpus(ckpt)
        self.band = find_band(cfg)  # seed_bands.py: "is my run normal?"
        mc = {"seed": cfg.seed, **cfg.model, "src_vocab": len(self.corpus.src_vocab),
              "tgt_vocab": len(self.corpus.tgt_vocab)}
        self.model = build_translator(cfg.arch, mc)
        self.opt = AdamW(self.model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9,
                         weight_decay=cfg.weight_decay)
        self.train_ids = self.corpus.token_ids("train")
        self.valid_ids = self.corpus.token_ids("valid")
        self.valid_batches = make_batches(*self.valid_ids, batch_size=100)

    def data_path(self, data: str) -> Path:
        """--data hsk stands for the package's sentences.json, fingerprinted like any file."""
        return hsk_file() if data == "hsk" else Path(data)

    def make_corpus(self, ckpt) -> Corpus:
        """The data and its vocabularies (a resumed run's own); a subclass may cut the
        sentences another way (chapter 15 gives the source side a subword vocabulary)."""
        if ckpt is None:
            return load_corpus(self.cfg)
        vocabs = tuple(Vocab.from_json(ckpt.meta[k]) for k in ("src_vocab", "tgt_vocab"))
        sides = [Side.from_json(s) for s in ckpt.meta.get("sides", [])] or None
        return load_corpus(self.cfg, vocabs, sides)

    @property
    def best_bleu(self) -> float:
        """The best validation BLEU so far (-1 before the first evaluation)."""
        return -1.0 if self.best is None else self.best

    def meta(self) -> dict:
        return {**super().meta(), "src_vocab": self.corpus.src_vocab.to_json(),
                "tgt_vocab": self.corpus.tgt_vocab.to_json(), "best_bleu": self.best_bleu,
                "sides": [side.to_json() for side in self.corpus.sides]}

    def batches_from(self, step: int):
        """The batches from global step `step` on: epoch e is shuffled by (seed, e). With a
        curriculum, the first `curriculum_steps` come from the easy levels' pairs only."""
        cut = self.cfg.curriculum_steps if self.cfg.curriculum else 0
        if step < cut:
            for batch in self._epochs(self.easy_ids(), step):
                yield batch
                step += 1
                if step >= cut:
                    break
        yield from self._epochs(self.train_ids, step)

    def _epochs(self, ids, step: int):
        while True:
            per_epoch = len(make_batches(*ids, batch_size=self.cfg.batch_size))
            epoch, skip = divmod(step, per_epoch)
            rng = np.random.default_rng([self.cfg.seed, epoch])
            yield from make_batches(*ids, batch_size=self.cfg.batch_size, rng=rng)[skip:]
            step = (epoch + 1) * per_epoch

    def easy_ids(self):
        """(source ids, target ids) of the training pairs of HSK level <= `curriculum`."""
        records = self.corpus.records and self.corpus.records["train"]
        if not records:
            raise DataError("--curriculum orders the pairs by HSK level: it needs --data hsk")
        keep = [i for i, r in enumerate(records) if r["level"] <= self.cfg.curriculum]
        return tuple([ids[i] for i in keep] for ids in self.train_ids)

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
        hyps = translate(self.model, self.corpus.vocabs, [src for src, _ in pairs])
        return {"step": self.step,
                "valid_loss": evaluate_loss(self.model, self.valid_batches, 0.0),
                "valid_bleu": bleu(hyps, [tgt for _, tgt in pairs], self.cfg.tgt_lang)}

    def describe(self, result: dict) -> str:
        """The evaluation, and where it stands in the seed band of its configuration, if any."""
        text = f"valid loss {result['valid_loss']:.3f}, BLEU {result['valid_bleu']:.1f}"
        where = band_message(self.band, result) if self.band else None
        return f"{text}\n  {where}" if where else text

    def save_curves(self) -> None:
        from .plot import save_curves

        save_curves(self.history, self.run_dir / "curves.png")
