"""The language model's commands: lm train | generate | perplexity, and tokenize.

    tinytransformer lm train --data tang300 --run runs/tang
    tinytransformer lm generate --checkpoint runs/tang/best --seed 0 "床前"
    tinytransformer lm perplexity --checkpoint runs/tang/best --file poems.txt
    tinytransformer tokenize --tokenizer runs/tang/best "床前明月光"
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..values import positive_int, probability, temperature, top_p
from .options import (
    CommandError,
    add_checkpoint_arg,
    add_training_flags,
    checked,
    require_checkpoint,
    start_training,
)

DEFAULT_RUN = "runs/lm"
POSITIONAL = ("learned", "sinusoidal", "none")


def positional_kind(value) -> str:
    if value not in POSITIONAL:
        raise ValueError(f"must be one of {', '.join(POSITIONAL)}, got {value!r}")
    return value


MODEL_FLAGS = {"d_model": positive_int, "num_heads": positive_int, "d_ff": positive_int,
               "num_layers": positive_int, "dropout": probability,
               "positional": positional_kind}  # the LanguageModelConfig fields `lm train` offers


def _load(path):
    from ..lm_train import load_language_model

    require_checkpoint(path, "lm train")
    return load_language_model(path)


# -- lm train ------------------------------------------------------------------------------------


def add_train(p) -> None:
    from ..lm_train import LMTrainConfig
    from ..models import LanguageModelConfig

    add_training_flags(p, LMTrainConfig, LanguageModelConfig, MODEL_FLAGS, DEFAULT_RUN)


def run_train(args) -> int:
    from ..lm_train import LMTrainConfig, LMTrainer
    from ..ngram import best_bigram

    if "data" not in vars(args) and not args.resume:
        raise CommandError("--data is required: a UTF-8 text file, or a shortcut such as "
                           "tang300 (Debian's fortunes-zh)")
    trainer = start_training(args, LMTrainer, LMTrainConfig, MODEL_FLAGS)
    c, tok = trainer.corpus, trainer.tokenizer
    sizes = ", ".join(f"{len(c.docs[k]):,} {k} ({len(c.streams[k]):,} tokens)" for k in c.docs)
    print(f"training {trainer.model.num_parameters():,} parameters on {trainer.cfg.data}: "
          f"{trainer.cfg.tokenizer} tokenizer, {tok.vocab_size:,} tokens; documents {sizes}; "
          f"checkpoints in {args.run}/")
    k, nll = best_bigram(c.streams["train"], c.streams["valid"], tok.vocab_size)
    bigram = math.exp(nll / c.chars["valid"])
    print(f"to beat: a bigram model (add-k counts, k = {k}) has validation perplexity "
          f"{bigram:.2f} per character")
    trainer.run(progress=not args.no_progress)
    print(f"best validation perplexity {trainer.best:.2f} per character (bigram {bigram:.2f}); "
          f"curves in {args.run}/curves.png")
    return 0


# -- lm generate ---------------------------------------------------------------------------------


def add_generate(p) -> None:
    add_checkpoint_arg(p, f"{DEFAULT_RUN}/best", "lm train")
    p.add_argument("prompt", nargs="?", default="", help="text to continue (default: none, a "
                                                         "new document from its start)")
    p.add_argument("--max-new-tokens", type=checked(positive_int), default=200,
                   help="stop after this many tokens (default: %(default)s)")
    p.add_argument("--num-samples", type=checked(positive_int), default=1,
                   help="continuations, one after the other (default: %(default)s)")
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one each time)")
    p.add_argument("--temperature", type=checked(temperature), default=0.8,
                   help="divides the logits; 0 is greedy (default: %(default)s)")
    p.add_argument("--top-k", type=checked(positive_int), help="sample among the k most likely")
    p.add_argument("--top-p", type=checked(top_p),
                   help="sample among the most likely tokens holding probability p (0 < p <= 1)")


def run_generate(args) -> int:
    import numpy as np

    from ..data.documents import encode_text, separator_id

    model, tok, _ = _load(args.checkpoint)
    sep, T = separator_id(tok), model.config.max_len
    prompt = [sep, *encode_text(tok, args.prompt)]
    if len(prompt) >= T:
        print(f"warning: the prompt has {len(prompt)} tokens and the model reads at most {T}: "
              f"keeping its last {T - 1}", file=sys.stderr)
        prompt = prompt[-(T - 1):]
    rng = np.random.default_rng(args.seed)
    for n in range(args.num_samples):
        if n:
            print()
        stream = TextStream(tok, sep, args.prompt)
        sliding_generate(model, prompt, args.max_new_tokens, rng, eos_id=sep,
                         on_token=stream.add, temperature=args.temperature, top_k=args.top_k,
                         top_p=args.top_p)
        stream.end()
    return 0


def sliding_generate(model, prompt: list[int], max_new_tokens: int, rng, eos_id=None,
                     **sampling) -> list[int]:
    """`generate` beyond the model's context T = max_len: when the text fills it, go on from
    its last T // 2 tokens (a new KV cache), until `eos_id` or `max_new_tokens`.

    Within the first window this is `generate` itself, draw for draw."""
    from ..generate import generate

    T, ids, new = model.config.max_len, list(prompt), []
    while len(new) < max_new_tokens:
        window = ids if len(ids) < T else ids[-(T // 2):]
        want = min(max_new_tokens - len(new), T - len(window))
        out = generate(model, [window], want, rng=rng, eos_id=eos_id, **sampling)[0]
        ids, new = ids + out, new + out
        if len(out) < want:  # it stopped at eos_id
            break
    return new


class TextStream:
    """Prints a continuation as its tokens arrive. A BPE token can end inside a character
    (its bytes are not yet UTF-8): such text waits for the token that completes it."""

    def __init__(self, tok, sep: int, prompt: str):
        self.tok, self.sep, self.ids, self.shown = tok, sep, [], ""
        print(prompt, end="", flush=True)

    def add(self, ids) -> None:
        if int(ids[0]) == self.sep:
            return
        self.ids.append(int(ids[0]))
        text = self.tok.decode(self.ids)
        if not text.endswith("\ufffd"):
            print(text[len(self.shown):], end="", flush=True)
            self.shown = text

    def end(self) -> None:
        text = self.tok.decode(self.ids)
        print(text[len(self.shown):], flush=True)


# -- lm perplexity -------------------------------------------------------------------------------


def add_perplexity(p) -> None:
    add_checkpoint_arg(p, f"{DEFAULT_RUN}/best", "lm train")
    p.add_argument("--file", help="a UTF-8 text file (or a shortcut such as tang300) to score "
                                  "instead of the run's split")
    p.add_argument("--split", default="test", choices=["valid", "test"],
                   help="the run's held-out documents to score (default: %(default)s)")


def run_perplexity(args) -> int:
    from ..data.documents import load_text_corpus, read_documents
    from ..data.fortunes import resolve_data
    from ..lm_train import score_documents

    model, tok, meta = _load(args.checkpoint)
    if args.file:
        what, docs = args.file, read_documents(resolve_data(args.file))
    else:
        cfg = meta["train_config"]
        _warn_if_changed(meta)
        docs = load_text_corpus(cfg["data"], seed=cfg["seed"], tokenizer=tok).docs[args.split]
        what = f"the {args.split} split of {cfg['data']}"
    r = score_documents(model, tok, docs)
    print(f"{what}: {len(docs):,} documents, {r['tokens']:,} tokens, {r['chars']:,} characters: "
          f"perplexity {r['ppl']:.2f} per token, {r['ppl_char']:.2f} per character "
          f"({math.log2(r['ppl_char']):.3f} bits per character)")
    return 0


def _warn_if_changed(meta) -> None:
    from ..runs import data_changed

    if (warning := data_changed(meta.get("data_file"))) is not None:
        print(f"warning: {warning}", file=sys.stderr)


# -- lm (the family), tokenize -------------------------------------------------------------------

LM_COMMANDS = {
    "train": (add_train, run_train, "train a language model on a UTF-8 text file"),
    "generate": (add_generate, run_generate, "continue a prompt, streaming the text"),
    "perplexity": (add_perplexity, run_perplexity, "score text: perplexity per token and per "
                                                   "character"),
}


def add_lm(p) -> None:
    sub = p.add_subparsers(dest="lm_command", metavar="LM_COMMAND", required=True)
    for name, (add, _, help_text) in LM_COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False))


def run_lm(args) -> int:
    return LM_COMMANDS[args.lm_command][1](args)


def add_tokenize(p) -> None:
    p.add_argument("--tokenizer", required=True,
                   help="a tokenizer file (JSON, from Tokenizer.save) or a checkpoint folder "
                        "of `lm train`")
    p.add_argument("texts", nargs="+", help="text to cut into tokens")


def run_tokenize(args) -> int:
    tok = _tokenizer(Path(args.tokenizer))
    for n, text in enumerate(args.texts):
        ids = tok.encode(text)
        print(f"{'' if n == 0 else chr(10)}{text!r}: {len(ids)} tokens, {len(text)} characters, "
              f"{len(text.encode('utf-8'))} bytes")
        for i, piece in zip(ids, tok.tokens(ids)):
            print(f"{i:>8}  {piece!r}")
    return 0


def _tokenizer(path: Path):
    """A tokenizer file, or the tokenizer saved in a checkpoint folder."""
    from ..tokenizers import load_tokenizer

    return load_tokenizer(path) if path.is_file() else _load(path)[1]


COMMANDS = {
    "lm": (add_lm, run_lm, "a language model on your own text: train, generate, perplexity"),
    "tokenize": (add_tokenize, run_tokenize, "show the tokens (ids and pieces) of a text"),
}
