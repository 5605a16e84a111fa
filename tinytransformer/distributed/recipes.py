"""What a torch run takes from the project's own trainers, so that it trains the same way.

    data        trainer.batches_from(step): the global batch of step s is the NumPy run's
    schedule    trainer.learning_rate(step): the paper's (translator) or cosine (LM)
    optimizer   trainer.opt's betas, eps and weight decay, for torch.optim.AdamW
    evaluation  trainer.evaluate() on the NumPy model, with the torch weights copied in

The trainer is built without a run folder (`TrainingRun.from_meta`): only its `build` runs, which
loads the data with the vocabularies (or tokenizer) the checkpoint carries. What is the
model's own (the loss, and how a batch splits into rows) is in `RECIPES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..interop.files import our_model


@dataclass(frozen=True)
class Recipe:
    """A model kind's batch rows and loss, in torch."""

    arrays: Callable  # batch -> (arrays [B, ...] to split by rows, tokens the loss averages)
    loss_sum: Callable  # (model, local arrays as torch tensors, train config) -> summed loss


def translator_arrays(batch):
    return (batch.src, batch.tgt_in, batch.tgt_out), batch.n_tgt_tokens


def translator_loss_sum(model, arrays, cfg):
    """sum over real target tokens of CE(model(src, tgt_in), tgt_out), label-smoothed."""
    import torch.nn.functional as F

    src, tgt_in, tgt_out = arrays  # [B, S], [B, T], [B, T]
    logits = model(src, tgt_in)  # [B, T, V]
    return F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(),
                           ignore_index=model_config(model).pad_id,
                           label_smoothing=cfg.label_smoothing, reduction="sum")


def lm_arrays(batch):
    x, y = batch  # [B, T] each
    return (x, y), y.size


def lm_loss_sum(model, arrays, cfg):
    """sum over every position of CE(model(x), y): the next token of each window."""
    import torch.nn.functional as F

    x, y = arrays
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten(), reduction="sum")


RECIPES = {"translator": Recipe(translator_arrays, translator_loss_sum),
           "lm": Recipe(lm_arrays, lm_loss_sum)}


def model_config(model):
    """The config of a torch model, wrapped in DistributedDataParallel or not."""
    return getattr(model, "module", model).config


def project_trainer(kind: str, meta: dict, steps: int | None = None,
                    batch_size: int | None = None):
    """The project's trainer of this checkpoint's run, for its data, schedule, optimizer
    settings and evaluation; `steps` and `batch_size` (the global batch) replace the run's."""
    if kind == "translator":
        from ..train import TrainConfig as Config
        from ..train import Trainer
    else:
        from ..lm_train import LMTrainConfig as Config
        from ..lm_train import LMTrainer as Trainer
    cfg = Config(**meta["train_config"])
    cfg = replace(cfg, steps=steps or cfg.steps, batch_size=batch_size or cfg.batch_size)
    trainer = Trainer.from_meta(cfg, meta)  # no run folder; the checkpoint's vocabularies
    trainer.model = our_model(kind, meta["model_config"])  # the checkpoint's, exactly
    return trainer


def shard(arrays, rank: int, world: int):
    """This rank's rows of every array [B, ...] -> [B_r, ...], contiguous, sizes differing by
    at most one; and 1.0, or 0.0 when there is no row for it (it then computes on row 0 with
    weight 0, because every rank must take part in each gradient all-reduce)."""
    rows = np.array_split(np.arange(len(arrays[0])), world)[rank]
    if len(rows) == 0:
        return [a[:1] for a in arrays], 0.0
    return [a[rows] for a in arrays], 1.0
