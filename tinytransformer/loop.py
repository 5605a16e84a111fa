"""The training loop every model here shares, written once: `train.Trainer` (the translator) and
`lm_train.LMTrainer` (the language model) say only what is theirs.

    for batch in batches_from(step):            # the subclass's data, from any step on
        loss = loss(batch)                      # the subclass's objective
        g = dloss/dθ;  clip |g|;  lr = learning_rate(step + 1)
        if loss or |g| is not finite: stop before the update, nothing saved
        θ = AdamW(θ, g, lr);  step += 1
        every eval_every steps: evaluate(), best/ by `score_key`, latest/, curves.png

Stops at `cfg.steps` or after `cfg.minutes`. Ctrl-C saves `latest/` and returns. Resuming
restores weights, optimizer, step, history, the best score and the model's RNG state, and
the data continues with the batch it stopped before, so a resumed run computes the same losses
as an uninterrupted one. A new run never replaces an existing one silently (`runs.py`).

A subclass implements `build` (data, model, optimizer), `batches_from`, `loss`,
`learning_rate`, `batch_tokens`, `evaluate`, `describe`, `save_curves`, and may add to `meta`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

from .checkpoint import load_checkpoint, save_checkpoint
from .optim import clip_grad_norm
from .runs import clear_run, data_changed, fingerprint, open_run


class NonFiniteError(FloatingPointError):
    """A training step produced a NaN or Inf loss or gradient; nothing of it was saved."""


class TrainingRun:
    """A run: config, model, optimizer, data, counters; `run()` trains, `save()` checkpoints.

    `resume` continues `run_dir/latest`, with the run's own config (only `steps` and
    `minutes`, how long to go on, are the caller's); otherwise an existing run in `run_dir` is
    refused unless `overwrite` (then its checkpoints are deleted once the new run is ready).
    """

    score_key = "valid_score"  # the evaluate() entry that picks best/
    score_name = "valid score"  # how describe_run names it
    higher_is_better = True
    lr_hint = "A lower learning rate or a longer warm-up usually helps"

    def __init__(self, cfg, run_dir: str | Path, resume: bool = False,
                 overwrite: bool = False, log=print):
        self.run_dir, self.log = Path(run_dir), log
        latest = open_run(self.run_dir, resume, overwrite)
        ckpt = load_checkpoint(latest) if latest else None
        if ckpt is not None:
            cfg = replace(type(cfg)(**ckpt.meta["train_config"]), steps=cfg.steps,
                          minutes=cfg.minutes)
            self.data_file = ckpt.meta.get("data_file")
            if (warning := data_changed(self.data_file)) is not None:
                log(f"warning: {warning}")
        elif cfg.data is not None:  # remembered by absolute path and hash: runs from anywhere
            self.data_file = fingerprint(self.data_path(cfg.data))
            cfg = replace(cfg, data=self.data_file["path"])
        else:
            self.data_file = None
        self.cfg = cfg
        self.step, self.history, self.best = 0, [], None
        self.build(ckpt)
        if ckpt is not None:
            self.restore(ckpt)
            log(f"resumed {latest} at step {self.step}")
        elif overwrite:
            clear_run(self.run_dir)

    @classmethod
    def from_meta(cls, cfg, meta: dict, log=print):
        """A run without a folder, set up as the checkpoint `meta` says (its data, vocabularies
        or tokenizer, step, history), with `cfg`: for driving its batches, schedule and
        evaluation from elsewhere (distributed/ trains the checkpoint's model under torch)."""
        run = cls.__new__(cls)  # __init__ would open a run folder
        run.run_dir, run.log, run.cfg = None, log, cfg
        run.step, run.data_file = meta["step"], meta.get("data_file")
        run.history = list(meta.get("history") or [])
        run.best = (meta.get("best") or {}).get("value")
        run.build(SimpleNamespace(meta=meta))
        return run

    # -- what a subclass says ------------------------------------------------------------------
    def data_path(self, data: str) -> Path:
        """The file `cfg.data` names (a subclass may resolve shortcuts here)."""
        return Path(data)

    def build(self, ckpt) -> None:
        """Set self.model, self.opt and the data; `ckpt` is the checkpoint resumed, or None."""
        raise NotImplementedError

    def batches_from(self, step: int):
        """The training batches from global step `step` on, the same on every call."""
        raise NotImplementedError

    def loss(self, batch):
        """The scalar loss Tensor of one batch, in training mode."""
        raise NotImplementedError

    def learning_rate(self, step: int) -> float:
        """The learning rate of update number `step` (1-based)."""
        raise NotImplementedError

    def batch_tokens(self, batch) -> int:
        """Tokens the loss is computed on, for the progress bar's tokens/s."""
        raise NotImplementedError

    def evaluate(self) -> dict:
        """{"step": ..., score_key: ..., ...} on the validation data, without dropout."""
        raise NotImplementedError

    def describe(self, result: dict) -> str:
        """One evaluation as a short phrase: "valid loss 2.345, BLEU 12.3"."""
        raise NotImplementedError

    def save_curves(self) -> None:
        """Draw the history into run_dir/curves.png."""
        raise NotImplementedError

    # -- checkpoints ---------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"train_config": asdict(self.cfg), "model_config": self.model.config.to_dict(),
                "step": self.step, "rng": self.model.rng.bit_generator.state,
                "history": self.history, "data_file": self.data_file,
                "best": {"name": self.score_name, "value": self.best}}

    def save(self, name: str) -> Path:
        return save_checkpoint(self.run_dir / name, self.model.state_dict(), self.meta(),
                               optimizer=self.opt.state_dict())

    def restore(self, ckpt) -> None:
        self.model.load_state_dict(ckpt.tensors)
        self.opt.load_state_dict(ckpt.optimizer)
        self.step, self.history = ckpt.meta["step"], ckpt.meta["history"]
        self.best = (ckpt.meta.get("best") or {}).get("value")
        self.model.rng.bit_generator.state = ckpt.meta["rng"]

    def improves(self, score: float) -> bool:
        if self.best is None:
            return True
        return score > self.best if self.higher_is_better else score < self.best

    # -- the loop ------------------------------------------------------------------------------
    def train_step(self, batch) -> float:
        """One update; a non-finite loss or gradient raises before the weights change."""
        loss = self.loss(batch)
        self.opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm(self.model.parameters(), self.cfg.clip)
        lr = self.learning_rate(self.step + 1)
        if not (math.isfinite(loss.item()) and math.isfinite(norm)):
            raise NonFiniteError(self._non_finite(loss.item(), norm, lr))
        self.step += 1
        self.opt.lr = lr
        self.opt.step()
        return loss.item()

    def _non_finite(self, loss: float, norm: float, lr: float) -> str:
        saved = [h["step"] for h in self.history if self.score_key in h]  # checkpointed steps
        last = (f"the last good checkpoint is {self.run_dir / 'latest'} (step {saved[-1]})"
                if saved else "no checkpoint was saved yet")
        return (f"step {self.step + 1}: loss {loss:.4g}, gradient norm {norm:.4g} at learning "
                f"rate {lr:.3g}: stopped before updating the weights; {last}. {self.lr_hint}")

    def run(self, progress: bool = True) -> list[dict]:
        """Train until `steps` (or `minutes`); evaluate and checkpoint every `eval_every`."""
        from tqdm import tqdm

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
                tok_s = self.batch_tokens(batch) / (time.perf_counter() - t0)
                self.history.append({"step": self.step, "train_loss": loss})
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.opt.lr:.2e}", tok_s=f"{tok_s:.0f}")
                if self.step % cfg.eval_every == 0:
                    self._checkpoint(bar if progress else None)
                    self.save_curves()
        except KeyboardInterrupt:
            bar.close()
            self.log(f"interrupted at step {self.step}: saved {self.save('latest')}")
            return self.history
        finally:
            bar.close()
        if self.step % cfg.eval_every:
            self._checkpoint(None)
        self.save_curves()
        return self.history

    def _checkpoint(self, bar) -> None:
        result = self.evaluate()
        self.history.append(result)
        self.model.train()
        improved = self.improves(result[self.score_key])
        if improved:
            self.best = result[self.score_key]
            self.save("best")
        self.save("latest")
        (bar.write if bar else self.log)(  # above the bar, or through `log` when there is none
            f"step {self.step}: {self.describe(result)}{' (best)' if improved else ''}")
