"""The `tinytransformer` command line: train, translate, evaluate, attention, fetch, bench.

Each subcommand imports what it needs when it runs, so `tinytransformer --help` is instant.
The training flags are built from the fields of `TrainConfig` and `TransformerConfig`, so
their defaults, checks and help are written once, in the dataclasses. A bad value stops the
command while parsing; any data, checkpoint, config or OS error ends in one line,
`tinytransformer CMD: error: ...`, with exit code 1 (set TINYTRANSFORMER_DEBUG=1 for the
traceback). One module per family of commands:

    translator.py   train, translate, evaluate, attention
    pretrained.py   fetch
    llm.py          chat, generate (a pretrained LLM)
    lm.py           lm train | generate | perplexity, tokenize
    options.py      flags from dataclass fields, checks as argparse types, CommandError
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from . import export, llm, lm, pretrained, translator
from .options import CommandError

__all__ = ["main", "build_parser", "COMMANDS", "CommandError"]


def add_bench(p) -> None:
    from ..bench import add_arguments

    add_arguments(p)


def run_bench(args) -> int:
    from ..bench import run

    return run(args)


COMMANDS = {  # name -> (add its arguments, run it, one line of help); one dict per module
    **translator.COMMANDS,
    **pretrained.COMMANDS,
    **export.COMMANDS,
    **lm.COMMANDS,
    **llm.COMMANDS,
    "bench": (add_bench, run_bench, "benchmarks: engine, kernels, training step, decoding"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinytransformer", allow_abbrev=False,
        description="A from-scratch NumPy Transformer: train, translate, evaluate, plot attention.")
    parser.add_argument("--version", action="version", version=f"tinytransformer {__version__}")
    parser.add_argument("--backend", choices=["numpy", "numba"],
                        help="kernel backend (default: numba; env TINYTRANSFORMER_BACKEND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add, _, help_text) in COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from ..kernels import get_backend, set_backend

    if args.backend:
        set_backend(args.backend)
    if os.environ.get("NUMBA_DISABLE_JIT") == "1" and get_backend() == "numba":
        print("warning: NUMBA_DISABLE_JIT=1 runs the numba backend's kernels as plain Python, "
              "far slower than --backend numpy (use it to debug a kernel)", file=sys.stderr)
    try:
        return COMMANDS[args.command][1](args) or 0
    except Exception as e:
        if os.environ.get("TINYTRANSFORMER_DEBUG") == "1" or not _expected(e):
            raise
        print(f"tinytransformer {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1


def _expected(e: Exception) -> bool:
    """Errors of input, not of the program: data, checkpoints, configs, files, NaNs."""
    from ..checkpoint import CheckpointError
    from ..data import DataError
    from ..pretrained import FetchError
    from ..runs import RunError
    from ..train import NonFiniteError

    return isinstance(e, (CommandError, CheckpointError, DataError, RunError, NonFiniteError,
                          FetchError, ValueError, OSError))


def _one_line(e: Exception) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return " ".join(str(e).split()) or type(e).__name__

