"""The `tinytransformer` command line: train, translate, evaluate, attention, bench.

Each subcommand imports what it needs when it runs, so `tinytransformer --help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__

DEFAULT_RUN = "runs/toy"


def _checkpoint_arg(p) -> None:
    p.add_argument("--checkpoint", default=f"{DEFAULT_RUN}/best",
                   help="checkpoint folder (default: %(default)s, written by `train`)")


def add_train(p) -> None:
    from .train import TrainConfig

    d = TrainConfig()
    p.add_argument("--data", help="tab-separated English/Chinese pairs (Tatoeba/Anki format); "
                                  "default: the built-in toy corpus")
    p.add_argument("--run", default=DEFAULT_RUN, help="run folder (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/latest")
    p.add_argument("--steps", type=int, default=d.steps, help="training steps (%(default)s)")
    p.add_argument("--minutes", type=float, help="stop after this much wall time")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="sentences per step")
    p.add_argument("--lr-factor", type=float, default=d.lr_factor, help="scales the schedule")
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evals")
    p.add_argument("--max-words", type=int, default=d.max_words,
                   help="--data: keep pairs of at most this many English tokens")
    p.add_argument("--min-freq", type=int, default=d.min_freq, help="vocabulary threshold")
    p.add_argument("--seed", type=int, default=d.seed)
    for name, default in [("d-model", 128), ("num-heads", 4), ("d-ff", 512),
                          ("num-encoder-layers", 2), ("num-decoder-layers", 2)]:
        p.add_argument(f"--{name}", type=int, default=default, help=f"model size ({default})")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_train(args) -> int:
    from .train import TrainConfig, Trainer

    model = {k: getattr(args, k) for k in ("d_model", "num_heads", "d_ff", "num_encoder_layers",
                                           "num_decoder_layers", "dropout")}
    cfg = TrainConfig(data=args.data, max_words=args.max_words, steps=args.steps,
                      minutes=args.minutes, batch_size=args.batch_size, lr_factor=args.lr_factor,
                      warmup=args.warmup, weight_decay=args.weight_decay,
                      label_smoothing=args.label_smoothing, eval_every=args.eval_every,
                      min_freq=args.min_freq, seed=args.seed, model=model)
    trainer = Trainer(cfg, args.run, resume=args.resume)
    print(f"training {trainer.model.num_parameters():,} parameters on "
          f"{len(trainer.corpus.splits['train']):,} pairs ({cfg.data or 'toy corpus'}); "
          f"checkpoints in {args.run}/")
    trainer.run(progress=not args.no_progress)
    print(f"best validation BLEU {trainer.best_bleu:.1f}; curves in {args.run}/curves.png")
    return 0


def add_translate(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("sentences", nargs="*", help="English sentences (none: read --file or stdin)")
    p.add_argument("--file", help="a text file, one sentence a line")
    p.add_argument("--beam", type=int, default=1, help="beam size (1: greedy)")
    p.add_argument("--length-alpha", type=float, default=0.6, help="beam length penalty alpha")


def run_translate(args) -> int:
    from .translate import load_translator, translate

    model, vocabs, _ = load_translator(args.checkpoint)
    if args.sentences or args.file:
        lines = args.sentences or Path(args.file).read_text(encoding="utf-8").splitlines()
        for en, zh in zip(lines, translate(model, vocabs, lines, args.beam, args.length_alpha)):
            print(f"{en}\t{zh}")
        return 0
    interactive = sys.stdin.isatty()
    while True:  # an interactive prompt, or stdin line by line
        try:
            line = input("en> " if interactive else "").strip()
        except EOFError:
            return 0
        if line:
            print(translate(model, vocabs, [line], args.beam, args.length_alpha)[0])


def add_evaluate(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("--split", default="test", choices=["valid", "test"])
    p.add_argument("--file", help="a .tsv of pairs to score instead of the run's split")
    p.add_argument("--beam", type=int, default=1, help="beam size (1: greedy)")
    p.add_argument("--limit", type=int, help="score only the first N pairs")


def run_evaluate(args) -> int:
    import sacrebleu

    from .data import load_tsv
    from .train import TrainConfig, load_corpus
    from .translate import load_translator, translate

    model, vocabs, meta = load_translator(args.checkpoint)
    if args.file:
        pairs = load_tsv(args.file)
    else:
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


def add_attention(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("sentence", help="an English sentence")
    p.add_argument("--out", default="attention.png", help="figure file (default: %(default)s)")
    p.add_argument("--kinds", default="encoder_self,decoder_self,cross",
                   help="comma-separated maps to draw (default: %(default)s)")


def run_attention(args) -> int:
    from .plot import MissingFontError, plot_attention
    from .translate import attention_maps, load_translator

    model, vocabs, _ = load_translator(args.checkpoint)
    translation, maps = attention_maps(model, vocabs, args.sentence)
    chosen = {k: maps[k] for k in args.kinds.split(",")}
    try:
        plot_attention(chosen, args.out)
    except MissingFontError as e:
        print(f"tinytransformer attention: {e}", file=sys.stderr)
        return 1
    print(f"{args.sentence} -> {translation}\nattention maps saved to {args.out}")
    return 0


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
    "bench": (add_bench, run_bench, "benchmarks: engine, kernels, training step, decoding"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinytransformer",
        description="A from-scratch NumPy Transformer: train, translate, evaluate, plot attention.")
    parser.add_argument("--version", action="version", version=f"tinytransformer {__version__}")
    parser.add_argument("--backend", choices=["numpy", "numba"],
                        help="kernel backend (default: numba; env TINYTRANSFORMER_BACKEND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add, _, help_text) in COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.backend:
        from .kernels import set_backend

        set_backend(args.backend)
    return COMMANDS[args.command][1](args) or 0


if __name__ == "__main__":
    sys.exit(main())
