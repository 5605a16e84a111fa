"""The torch run: N processes, one model copy each, one global batch split between them.

    global batch   rows 0..B-1, the project's batch of this step; rank r takes rows B_r
    loss           L = (1/n) sum_{tokens of the batch} CE,   n = its real target tokens
    rank r         L_r = (N/n) sum_{tokens of rows B_r} CE
    all-reduce     g = (1/N) sum_r dL_r/dθ = dL/dθ        (DDP averages the N gradients)

so after `backward` every rank holds the gradient of the single-process loss, clips it and
takes the same AdamW step: the N copies stay equal without the weights ever being sent.
(Averaging each rank's own mean instead would give a token the weight 1/n_r: ranks holding
shorter sentences would count more.) Rank 0 evaluates and writes the torch folder.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..interop import from_torch_state_dict, read_torch_folder, save_torch_folder, torch_model
from ..interop.files import FORMAT, FORMAT_VERSION, config_class, read_optimizer, refuse_existing
from ..interop.optimizer import adamw_arrays, load_into_adamw
from ..loop import NonFiniteError
from .recipes import RECIPES, project_trainer, shard


@dataclass
class Options:
    """A torch run; `python -m tinytransformer.distributed --help` shows them as flags."""

    model: str  # a torch folder: `tinytransformer export --to torch`, or an earlier run's out
    out: str  # the torch folder to write (at each evaluation and at the end)
    steps: int | None = None  # train until the step count reaches this (default: the run's)
    batch_size: int | None = None  # the global batch (default: the run's)
    eval_every: int | None = None  # steps between evaluations and saves (default: the end)
    log_every: int = 10  # steps between lines of loss
    backend: str = "auto"  # gloo on CPU, nccl with CUDA
    overwrite: bool = False  # replace an existing `out`


def start(backend: str) -> tuple[int, int, torch.device, str]:
    """(rank, world size, device, backend): the process group torchrun describes in the
    environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), or one process without it."""
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local}" if backend == "nccl" else "cpu")
    if "RANK" not in os.environ:
        return 0, 1, device, "none"
    if backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size(), device, backend


def train(opts: Options, log=print) -> list[dict]:
    """Run `opts` in this process (one of torchrun's N, or alone); returns the history."""
    rank, world, device, backend = start(opts.backend)
    try:
        run = DDPRun(opts, rank, world, device, backend, log if rank == 0 else _quiet)
        return run.run()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _quiet(*args, **kwargs) -> None:
    pass


class DDPRun:
    """One process's share of a run: its model copy, its optimizer, the project's trainer."""

    def __init__(self, opts: Options, rank: int, world: int, device, backend: str, log):
        refuse_existing(opts.out, opts.overwrite)  # on every rank: none may start alone
        tensors, config = read_torch_folder(opts.model)
        self.opts, self.rank, self.world, self.device, self.log = opts, rank, world, device, log
        self.kind, self.recipe = config["kind"], RECIPES[config["kind"]]
        self.backend, self.saved_at = backend, None
        meta = config["meta"]
        self.trainer = project_trainer(self.kind, meta, opts.steps, opts.batch_size)
        self.model = torch_model(config_class(self.kind).from_dict(meta["model_config"]))
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        self.model.to(device).train()
        # dropout: each rank its own masks, as rows of one batch have their own
        torch.manual_seed(int(np.random.SeedSequence([self.trainer.cfg.seed, rank])
                              .generate_state(1)[0]))
        self.net = (DistributedDataParallel(self.model) if world > 1 else self.model)
        o = self.trainer.opt  # the project's optimizer settings: betas, eps, weight decay
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=0.0, betas=o.betas, eps=o.eps,
                                     weight_decay=o.weight_decay)
        if (state := read_optimizer(opts.model)) is not None:  # the run's moments go on
            load_into_adamw(self.opt, self.model, state)

    def run(self) -> list[dict]:
        t, cfg, opts = self.trainer, self.trainer.cfg, self.opts
        self.log(f"{self.kind}: {sum(p.numel() for p in self.model.parameters()):,} parameters"
                 f", {self.world} process(es) ({self.backend}), global batch {cfg.batch_size}, "
                 f"steps {t.step} -> {cfg.steps}")
        for batch in t.batches_from(t.step):
            if t.step >= cfg.steps:
                break
            loss = self.train_step(batch)
            t.history.append({"step": t.step, "train_loss": loss})
            if t.step % opts.log_every == 0:
                self.log(f"step {t.step}: train loss {loss:.4f}")
            if opts.eval_every and t.step % opts.eval_every == 0:
                self.checkpoint()
        if self.saved_at != t.step:
            self.checkpoint()
        return t.history

    def train_step(self, batch) -> float:
        """One update of the global batch; a non-finite loss or gradient stops before it."""
        t = self.trainer
        arrays, n = self.recipe.arrays(batch)  # n: the tokens the loss averages over
        local, weight = shard(arrays, self.rank, self.world)
        local = [torch.from_numpy(a).to(self.device) for a in local]
        loss_sum = self.recipe.loss_sum(self.net, local, t.cfg) * weight
        (loss_sum * (self.world / n)).backward()  # L_r = (N/n) sum CE; DDP averages over N
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.cfg.clip))
        total = loss_sum.detach().clone()
        if self.world > 1:
            dist.all_reduce(total)  # sum over ranks: the batch's summed loss, for the log
        loss, lr = total.item() / n, t.learning_rate(t.step + 1)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise NonFiniteError(f"step {t.step + 1}: loss {loss:.4g}, gradient norm "
                                 f"{norm:.4g} at learning rate {lr:.3g}: stopped before "
                                 f"updating the weights. {t.lr_hint}")
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        t.step += 1
        return loss

    def checkpoint(self) -> None:
        """Rank 0: evaluate with the project's trainer (weights copied into its NumPy model)
        when asked, then write `out`; the other ranks go on and wait at the next all-reduce."""
        if self.rank != 0:
            return
        t = self.trainer
        t.model.load_state_dict(from_torch_state_dict(self.model.state_dict()))
        if self.opts.eval_every:
            result = t.evaluate()
            t.history.append(result)
            improved = t.improves(result[t.score_key])
            t.best = result[t.score_key] if improved else t.best
            self.log(f"step {t.step}: {t.describe(result)}{' (best)' if improved else ''}")
        meta = {**t.meta(), "torch_run": {"world_size": self.world, "backend": self.backend,
                                          "torch": torch.__version__}}
        tensors = {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind,
                  "meta": meta}
        save_torch_folder(self.opts.out, tensors, config, adamw_arrays(self.opt, self.model))
        self.saved_at = t.step
        self.log(f"step {t.step}: saved {self.opts.out}")
