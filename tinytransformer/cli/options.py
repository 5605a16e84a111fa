"""What every command shares: flags built from config dataclasses, value checks as argparse
types, the flags of a training run and of a checkpoint, and the error a command raises when it
cannot do what it was asked."""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from pathlib import Path


class CommandError(RuntimeError):
    """A command cannot do what it was asked; the message says what to do instead."""


def checked(check):
    """An argparse `type` from a check of values.py: its message becomes argparse's."""
    def parse(text: str):
        try:
            return check(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = check.__name__
    return parse


def add_fields(p, cls, names, checks=None, helps=None) -> None:
    """One `--field-name` flag per named field of the dataclass `cls`, with the field's default,
    check and help unless `checks` / `helps` give them.

    Flags the user does not give are absent from the parsed args (argparse.SUPPRESS), so the
    dataclass's own default applies, and `--resume` can tell what was asked for explicitly.
    """
    for f in fields(cls):
        if f.name not in names:
            continue
        check = (checks or {}).get(f.name) or f.metadata.get("check")
        default = None if f.default is MISSING else f.default
        help_text = (helps or {}).get(f.name) or f.metadata.get("help", "")
        kind = checked(check) if check else str if default is None else type(default)
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=argparse.SUPPRESS,
                       help=f"{help_text} (default: {default})".replace("%", "%%"))


def add_checkpoint_arg(p, default: str, written_by: str) -> None:
    p.add_argument("--checkpoint", default=default,
                   help=f"checkpoint folder (default: %(default)s, written by `{written_by}`)")


def require_checkpoint(path, made_by: str) -> None:
    """A CommandError saying how to make one if there is no checkpoint at `path`."""
    from ..checkpoint import checkpoint_exists

    if not checkpoint_exists(path):
        raise CommandError(f"{path}: no checkpoint there; run `tinytransformer {made_by}` "
                           f"first, or pass --checkpoint DIR")


def add_training_flags(p, train_cls, model_cls, model_flags: dict, default_run: str) -> None:
    """--run, --resume / --overwrite, one flag per field of `train_cls` (but `model`), the
    `model_flags` fields of `model_cls` (name -> check), and --no-progress."""
    p.add_argument("--run", default=default_run, help="run folder (default: %(default)s)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--resume", action="store_true", help="continue from RUN/latest")
    how.add_argument("--overwrite", action="store_true",
                     help="replace the run already in RUN (its checkpoints are deleted)")
    add_fields(p, train_cls, [f.name for f in fields(train_cls) if f.name != "model"])
    add_fields(p, model_cls, model_flags, checks=model_flags,
               helps={n: "model size" for n in model_flags} | {"dropout": "dropout rate",
                      "positional": "position information: learned, sinusoidal or none"})
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def start_training(args, trainer_cls, train_cls, model_flags: dict):
    """The trainer the flags ask for; on --resume, a warning for each flag it ignores."""
    given = {k: v for k, v in vars(args).items() if k in train_cls.__dataclass_fields__}
    model = {k: v for k, v in vars(args).items() if k in model_flags}
    trainer = trainer_cls(train_cls(**given, model=model), args.run, resume=args.resume,
                          overwrite=args.overwrite)
    if args.resume:
        warn_ignored({**given, **model}, trainer, model_flags)
    return trainer


def warn_ignored(given: dict, trainer, model_flags) -> None:
    """On --resume the run's own settings win: say which options given differ and are ignored."""
    for name, value in given.items():
        if name in ("steps", "minutes"):  # how long to go on is the caller's to say
            continue
        kept = getattr(trainer.model.config if name in model_flags else trainer.cfg, name)
        if name == "data" and trainer.data_path(value).resolve() == Path(kept or "").resolve():
            continue
        if value != kept:
            print(f"warning: --resume keeps the run's --{name.replace('_', '-')} {kept}; "
                  f"ignoring {value}", file=sys.stderr)
