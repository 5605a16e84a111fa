"""The translator's commands: train, translate, evaluate, attention."""

from __future__ import annotations

import argparse
import sys

from ..values import positive_int, probability
from .options import (
    CommandError,
    add_checkpoint_arg,
    add_training_flags,
    checked,
    require_checkpoint,
    start_training,
)

DEFAULT_RUN = "runs/toy"
MODEL_FLAGS = {"d_model": positive_int, "num_heads": positive_int, "d_ff": positive_int,
               "num_encoder_layers": positive_int, "num_decoder_layers": positive_int,
               "dropout": probability}  # the TransformerConfig fields `train` offers
ATTENTION_KINDS = ("encoder_self", "decoder_self", "cross")


def _checkpoint_arg(p) -> None:
    add_checkpoint_arg(p, f"{DEFAULT_RUN}/best", "train")


# -- train ---------------------------------------------------------------------------------------


def add_train(p) -> None:
    from ..models import TransformerConfig
    from ..train import TrainConfig

    add_training_flags(p, TrainConfig, TransformerConfig, MODEL_FLAGS, DEFAULT_RUN)
    p.add_argument("--reverse", action="store_true",
                   help="translate the other way: the source is the file's second column, and "
                        "the languages swap (en -> zh becomes zh -> en)")


def reversed_direction(args) -> None:
    """--reverse: the source is column 2, and the languages given (or their defaults) swap."""
    from ..train import TrainConfig

    defaults = TrainConfig()
    src = getattr(args, "src_lang", defaults.src_lang)
    tgt = getattr(args, "tgt_lang", defaults.tgt_lang)
    args.src_lang, args.tgt_lang, args.source_column = tgt, src, 2
    if hasattr(args, "src_tokenizer") or hasattr(args, "tgt_tokenizer"):
        args.src_tokenizer, args.tgt_tokenizer = (getattr(args, "tgt_tokenizer", None),
                                                  getattr(args, "src_tokenizer", None))


def run_train(args) -> int:
    from ..train import TrainConfig, Trainer

    if args.reverse:
        reversed_direction(args)
    trainer = start_training(args, Trainer, TrainConfig, MODEL_FLAGS)
    corpus = trainer.corpus
    sizes = ", ".join(f"{len(v):,} {k}" for k, v in corpus.splits.items())
    src, tgt = (side.describe() for side in corpus.sides)
    column = f", source = column {corpus.source_column}" if trainer.cfg.data else ""
    print(f"training {trainer.model.num_parameters():,} parameters on pairs from "
          f"{trainer.cfg.data or 'the toy corpus'} ({sizes}); {src} -> {tgt}{column}; "
          f"checkpoints in {args.run}/")
    if trainer.band:
        print(f"this is the configuration of the seed band \"{trainer.band['name']}\": each "
              f"evaluation at steps {', '.join(trainer.band['steps'])} is compared with it")
    trainer.run(progress=not args.no_progress)
    print(f"best validation BLEU {trainer.best_bleu:.1f}; curves in {args.run}/curves.png")
    return 0


# -- translate, evaluate, attention --------------------------------------------------------------


def _load_translator(path):
    from ..translate import load_translator

    require_checkpoint(path, "train")
    return load_translator(path)


def add_translate(p) -> None:
    _checkpoint_arg(p)
    p.add_argument("sentences", nargs="*",
                   help="sentences in the model's source language (none: read --file or stdin)")
    p.add_argument("--file", help="a text file, one sentence a line")
    p.add_argument("--beam", type=checked(positive_int), default=1, help="beam size (1: greedy)")
    p.add_argument("--length-alpha", type=float, default=0.6, help="beam length penalty alpha")


def run_translate(args) -> int:
    from ..data import read_text_lines
    from ..translate import input_warnings, translate

    model, vocabs, _ = _load_translator(args.checkpoint)

    def say(lines):
        for warning in input_warnings(model, vocabs[0], lines, vocabs.sides[0]):
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
            line = input(f"{vocabs.sides[0].lang}> " if interactive else "").strip()
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
    p.add_argument("--alignments", action="store_true",
                   help="also score each cross-attention head against the dictionary word "
                        "alignments of HSK pairs (a run trained with --data hsk)")


def run_evaluate(args) -> int:
    from ..data import load_tsv
    from ..data.languages import bleu_tokenize, columns_swapped
    from ..runs import data_changed
    from ..train import TrainConfig, load_corpus
    from ..translate import bleu, chrf, translate

    model, vocabs, meta = _load_translator(args.checkpoint)
    cfg = TrainConfig(**meta["train_config"])
    records = None
    if args.file:  # its source column: the run's, or the one that reads as the source language
        pairs = load_tsv(args.file)
        langs = [side.lang for side in vocabs.sides]
        if cfg.source_column == 2 or (cfg.source_column is None
                                      and columns_swapped(pairs, *langs)):
            pairs = [(b, a) for a, b in pairs]
    else:
        if (warning := data_changed(meta.get("data_file"))) is not None:
            print(f"warning: {warning}", file=sys.stderr)
        corpus = load_corpus(cfg, vocabs, vocabs.sides)
        pairs, records = corpus.splits[args.split], (corpus.records or {}).get(args.split)
    pairs = pairs[: args.limit]
    hyps = translate(model, vocabs, [src for src, _ in pairs], args.beam)
    refs = [tgt for _, tgt in pairs]
    how = "greedy" if args.beam == 1 else f"beam {args.beam}"
    lang = vocabs.sides[1].lang
    print(f"{len(pairs)} sentences ({args.file or args.split}), {how}: "
          f"BLEU {bleu(hyps, refs, lang):.2f}  chrF {chrf(hyps, refs):.2f}  "
          f"({vocabs.sides[0].lang} -> {lang}, sacrebleu tokenize={bleu_tokenize(lang)})")
    if records:
        print_by_level(hyps, refs, records[: args.limit], lang)
    if args.alignments:
        if not records:
            raise CommandError("--alignments scores heads against the word glosses of HSK "
                               "pairs: evaluate a run trained with --data hsk")
        print_alignments(model, vocabs, pairs, records[: args.limit])
    return 0


def print_alignments(model, vocabs, pairs, records) -> None:
    """Each cross-attention head's AER and attention share on the silver links."""
    import numpy as np

    from ..data.alignments import head_scores, hsk_links
    from ..translate import forced_cross_attention

    scores = head_scores(forced_cross_attention(model, vocabs, pairs),
                         hsk_links(records, vocabs.sides))
    print(f"cross-attention against dictionary alignments (silver: CC-CEDICT glosses; "
          f"{scores['rows']} linked target tokens, {scores['links']} links; even share "
          f"{scores['even']:.3f}):")
    for (layer, head), aer in np.ndenumerate(scores["aer"]):
        print(f"  layer {layer} head {head}: AER {aer:.3f}  share "
              f"{scores['share'][layer, head]:.3f}")
    layer, head = np.unravel_index(np.argmin(scores["aer"]), scores["aer"].shape)
    print(f"best head: layer {layer} head {head}, AER {scores['aer'][layer, head]:.3f}")


def print_by_level(hyps, refs, records, lang) -> None:
    """BLEU and chrF of each HSK level's sentences."""
    from ..data.hsk import by_level
    from ..translate import bleu, chrf

    pairs = by_level(records, list(zip(hyps, refs)))
    for level, rows in pairs.items():
        h, r = [list(x) for x in zip(*rows)]
        print(f"  HSK {level}: {len(rows):>3} sentences, BLEU {bleu(h, r, lang):6.2f}  "
              f"chrF {chrf(h, r):6.2f}")


def attention_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ATTENTION_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown kind {', '.join(unknown) or '(none)'}; choose "
                                         f"from {', '.join(ATTENTION_KINDS)}")
    return kinds


def add_attention(p) -> None:
    from ..explorer.sources import PRETRAINED

    _checkpoint_arg(p)
    p.add_argument("sentence", help="an English sentence")
    p.add_argument("--out", default="attention.png", help="figure file (default: %(default)s)")
    p.add_argument("--kinds", type=attention_kinds, default=list(ATTENTION_KINDS),
                   help=f"comma-separated maps to draw (default: {','.join(ATTENTION_KINDS)})")
    p.add_argument("--html", metavar="FILE",
                   help="write the attention explorer instead: one self-contained HTML page "
                        "(head, model and neuron views) for a translator's or a language "
                        "model's checkpoint, or for --model")
    p.add_argument("--model", choices=PRETRAINED,
                   help="a pretrained model instead of --checkpoint (with --html)")


def run_attention(args) -> int:
    from ..explorer.sources import write_page
    from ..plot import INSTALL_HINT, plot_attention, without_missing_glyphs
    from ..translate import attention_maps

    if not args.sentence.strip():
        raise CommandError("the sentence is empty: give the English sentence to look at")
    if args.html or args.model:
        if not args.html:
            raise CommandError("--model is shown in the HTML explorer only: add --html FILE")
        print(write_page(args.html, args.sentence, args.checkpoint, args.model))
        return 0
    model, vocabs, _ = _load_translator(args.checkpoint)
    translation, maps = attention_maps(model, vocabs, args.sentence)
    if not any(k in maps for k in args.kinds):  # --arch rnn has no attention, rnn-attention cross
        raise CommandError(f"this model has no {', '.join(args.kinds)} attention; it has: "
                           f"{', '.join(maps) or 'none'}")
    drawable, left_out = without_missing_glyphs({k: maps[k] for k in args.kinds if k in maps})
    if not drawable:
        raise CommandError(f"every map asked for has Chinese labels, and {INSTALL_HINT}")
    plot_attention(drawable, args.out)
    print(f"{args.sentence} -> {translation}\nattention maps saved to {args.out}")
    if left_out:
        print(f"warning: left out {', '.join(left_out)} (Chinese labels), since {INSTALL_HINT}",
              file=sys.stderr)
    return 0


COMMANDS = {
    "train": (add_train, run_train, "train a translator (default: the built-in toy corpus)"),
    "translate": (add_translate, run_translate, "translate English sentences with a checkpoint"),
    "evaluate": (add_evaluate, run_evaluate, "BLEU and chrF on the test split or a .tsv file"),
    "attention": (add_attention, run_attention, "save the attention maps of a sentence"),
}
