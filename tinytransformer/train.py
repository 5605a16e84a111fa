"""Training a translator: data, the loop, evaluation (loss and BLEU), checkpoints that resume.

    loss = CE(model(src, tgt_in), tgt_out)   (label-smoothed, padding ignored)
    lr   = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) * lr_factor   (the paper's schedule)

A run folder holds `latest/` and `best/` checkpoints (weights, optimizer state, vocabularies,
configs, RNG states and history), and `curves.png`. Resuming restores all of it and continues
with the batch it stopped before, so a resumed run computes the same losses as an
uninterrupted one. Ctrl-C saves `latest/` and returns.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import functional as F
from .checkpoint import load_checkpoint, save_checkpoint
from .data import Vocab, load_tsv, make_batches, split_pairs, toy_splits
from .data.tokenize import tokenize_en, tokenize_zh
from .models import Transformer, TransformerConfig
from .nn import inference
from .optim import AdamW, clip_grad_norm, noam_lr
from .translate import bleu, translate


@dataclass
class TrainConfig:
    data: str | None = None  # a .tsv of sentence pairs; None: the built-in toy corpus
    max_words: int = 10  # TSV: keep pairs with at most this many English tokens
    steps: int = 1500
    minutes: float | None = None  # stop earlier when this much wall time has passed
    batch_size: int = 64
    lr_factor: float = 1.0
    warmup: int = 400
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    clip: float = 1.0
    eval_every: int = 500
    eval_sentences: int = 500  # validation sentences decoded for BLEU
    min_freq: int = 1
    seed: int = 0
    model: dict = field(default_factory=dict)  # TransformerConfig overrides (d_model, ...)


@dataclass
class Corpus:
    splits: dict  # {"train" | "valid" | "test": [(english, chinese), ...]}
    src_vocab: Vocab
    tgt_vocab: Vocab

    def encode(self, split: str) -> tuple[list[list[int]], list[list[int]]]:
        pairs = self.splits[split]
        return ([self.src_vocab.encode(tokenize_en(en)) for en, _ in pairs],
                [self.tgt_vocab.encode(tokenize_zh(zh)) for _, zh in pairs])


def load_corpus(cfg: TrainConfig, vocabs: tuple[Vocab, Vocab] | None = None) -> Corpus:
    """The toy corpus or a TSV file, split, with vocabularies built on the training part."""
    if cfg.data is None:
        splits = toy_splits(seed=cfg.seed)
    else:
        splits = split_pairs(load_tsv(cfg.data, max_len=cfg.max_words), n_valid=1000,
                             n_test=1000, seed=cfg.seed)
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


class Trainer:
    """Holds a run: model, optimizer, data, counters; `run()` trains, `save()` checkpoints."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, resume: bool = False, log=print):
        self.run_dir, self.log = Path(run_dir), log
        latest = self.run_dir / "latest"
        ckpt = load_checkpoint(latest) if resume and latest.exists() else None
        if ckpt is not None:  # the run's own config; only how long to go on is the caller's
            cfg = replace(TrainConfig(**ckpt.meta["train_config"]), steps=cfg.steps,
                          minutes=cfg.minutes)
            vocabs = tuple(Vocab.from_json(ckpt.meta[k]) for k in ("src_vocab", "tgt_vocab"))
        elif resume:
            log(f"no checkpoint in {latest}: starting a new run")
        self.cfg = cfg
        self.corpus = load_corpus(cfg, vocabs if ckpt else None)
        mc = {"dropout": 0.1, "seed": cfg.seed, **cfg.model,
              "src_vocab": len(self.corpus.src_vocab), "tgt_vocab": len(self.corpus.tgt_vocab)}
        self.model = Transformer(TransformerConfig.from_dict(mc))
        self.opt = AdamW(self.model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9,
                         weight_decay=cfg.weight_decay)
        self.step, self.history, self.best_bleu = 0, [], -1.0
        self.train_ids, self.valid_ids = self.corpus.encode("train"), self.corpus.encode("valid")
        self.valid_batches = make_batches(*self.valid_ids, batch_size=100)
        if ckpt is not None:
            self._restore(ckpt)
            log(f"resumed {latest} at step {self.step}")

    # -- checkpoints ---------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"train_config": asdict(self.cfg), "model_config": self.model.config.to_dict(),
                "src_vocab": self.corpus.src_vocab.to_json(),
                "tgt_vocab": self.corpus.tgt_vocab.to_json(), "step": self.step,
                "rng": self.model.rng.bit_generator.state, "history": self.history,
                "best_bleu": self.best_bleu}

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
        clip_grad_norm(self.model.parameters(), cfg.clip)
        self.step += 1
        self.opt.lr = cfg.lr_factor * noam_lr(self.step, model.config.d_model, cfg.warmup)
        self.opt.step()
        return loss.item()

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

