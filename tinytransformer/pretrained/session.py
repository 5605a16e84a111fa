"""A conversation with a pretrained chat model, streamed token by token, its KV cache kept from
one turn to the next.

    chat = ChatSession(load_smollm2(), sampling=Sampling(temperature=0.7, seed=0))
    for piece in chat.say("Hi!"):
        print(piece, end="", flush=True)
    print(chat.last)          # 12 tokens, 31.0 tokens/s (prompt: 35 tokens in 0.31 s)

A turn feeds the model only what is new since the last one: the first turn the whole
template (system message, user message, "<|im_start|>assistant\\n"), later turns "<|im_end|>"
to close the answer, "\\n", and the next user message in ChatML. What the model has read
(`ids`, all in the cache) is exactly what `apply_chat_template` would give for the whole
conversation, with the answers in the tokens the model chose.

Stopping. An answer ends at <|im_end|> (or <|endoftext|>), after `max_new_tokens`, when the
context is full, or when the caller stops reading (Ctrl-C: `close()` on the generator, or a
KeyboardInterrupt inside it). Whatever the reason, the state stays consistent: a token is in
`ids` only once the model has read it (FastLlama moves `cache.offset` only at the end of a
forward), and the shown part of the answer is kept and closed with <|im_end|>. A turn
stopped before its prompt was read leaves the conversation as it was.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass

import numpy as np

from ..generate import repetition_penalty, sample_next
from ..nn import KVCache
from ..tokenizers.chat import apply_chat_template

__all__ = ["Sampling", "ReplyStats", "ChatSession", "ContextFullError"]


class ContextFullError(ValueError):
    """A prompt that does not fit in the model's context; the message says what to do."""


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: greedy when temperature is 0, else drawn (generate.py:
    temperature, top-k, top-p, repetition penalty), from a generator seeded with `seed`."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None

    def __post_init__(self):
        checks = [(self.temperature >= 0, "temperature must be >= 0 (0 is greedy)"),
                  (self.top_k is None or self.top_k >= 1, "top_k must be >= 1"),
                  (self.top_p is None or 0 < self.top_p <= 1, "top_p must be in (0, 1]"),
                  (self.repetition_penalty is None or self.repetition_penalty > 0,
                   "repetition_penalty must be > 0 (1 changes nothing)")]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Sampling: {message}, got {self}")

    def sampler(self):
        """sample(logits [V], seen ids) -> the next id, drawing from its own seeded generator."""
        rng = np.random.default_rng(self.seed)

        def sample(logits: np.ndarray, seen: list[int]) -> int:
            z = logits[None]  # [1, V]
            if self.repetition_penalty is not None:
                z = repetition_penalty(z, np.array([seen]), self.repetition_penalty)
            return int(sample_next(z, self.temperature, rng, self.top_k, self.top_p)[0])

        return sample


@dataclass
class ReplyStats:
    """One answer: the prompt read (tokens, seconds), the tokens generated and the seconds
    spent choosing and reading them, and why it stopped."""

    prompt_tokens: int
    prompt_seconds: float = 0.0
    new_tokens: int = 0
    decode_seconds: float = 0.0
    stopped: str = "interrupted"  # or "end of answer", "max_new_tokens", "context full"

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.decode_seconds if self.decode_seconds else 0.0

    def __str__(self) -> str:
        return (f"{self.new_tokens} tokens, {self.tokens_per_second:.1f} tokens/s (prompt: "
                f"{self.prompt_tokens} tokens in {self.prompt_seconds:.2f} s)")


class ChatSession:
    """A conversation: `say(text)` streams the answer; `complete(ids)` continues raw ids."""

    def __init__(self, llm, system: str | None = None, sampling: Sampling | None = None,
                 max_context: int | None = None):
        self.llm, self.system = llm, system
        self.sampling = sampling or Sampling()
        self.max_context = min(llm.max_len, max_context or llm.max_len)
        self.reset()

    def reset(self) -> None:
        """Forget the conversation (and restart the random draws from the seed)."""
        self.cache, self.ids, self.unfed = KVCache(), [], []
        self.sample, self.last = self.sampling.sampler(), None

    def say(self, text: str, max_new_tokens: int = 512):
        """The answer to the user message `text`, piece by piece (an iterator of str)."""
        first = not self.ids and not self.unfed
        messages = [{"role": "user", "content": text}]
        if first and self.system is not None:
            messages.insert(0, {"role": "system", "content": self.system})
        system = self.llm.default_system if first else None  # later turns: no system message
        prompt = ("" if first else "\n") + apply_chat_template(messages, default_system=system)
        ids = self.llm.tokenizer.encode(prompt)
        self._check_fits(ids, template=True)
        return self._stream(ids, max_new_tokens, chat=True)

    def complete(self, ids: list[int], max_new_tokens: int = 512):
        """Continue the token ids as they are (no template), piece by piece."""
        self._check_fits(list(ids), template=False)
        return self._stream(list(ids), max_new_tokens, chat=False)

    def _check_fits(self, ids: list[int], template: bool) -> None:
        so_far = len(self.ids) + len(self.unfed)
        if so_far + len(ids) <= self.max_context:
            return
        if so_far == 0:
            raise ContextFullError(f"the prompt has {len(ids)} tokens"
                                   f"{' (in the chat template)' if template else ''}, more "
                                   f"than the context of {self.max_context} tokens")
        raise ContextFullError(f"the conversation has {so_far} tokens and this message "
                               f"{len(ids)}: {so_far + len(ids)} do not fit in the context of "
                               f"{self.max_context} tokens; /reset starts a new conversation")

    def _feed(self, ids: list[int]) -> np.ndarray:
        """The model reads `ids` after the cache -> logits [V] for the next token."""
        logits = self.llm.model(np.array([ids]), self.cache, last_only=True)  # [1, 1, V]
        self.ids += ids  # only now: an interrupted forward leaves ids and cache as they were
        self.unfed = []
        return logits[0, -1].astype(np.float64)

    def _stream(self, prompt: list[int], max_new_tokens: int, chat: bool):
        stats = self.last = ReplyStats(len(self.unfed) + len(prompt))
        utf8 = codecs.getincrementaldecoder("utf-8")("replace")  # a character may span tokens
        t0, read = time.perf_counter(), False
        try:
            logits = self._feed(self.unfed + prompt)
            read, t1 = True, time.perf_counter()
            stats.prompt_seconds = t1 - t0
            while True:
                if stats.new_tokens >= max_new_tokens:
                    stats.stopped = "max_new_tokens"
                    break
                token = self.sample(logits, self.ids)
                if token in self.llm.stop_ids:
                    stats.stopped, self.unfed = "end of answer", [self.llm.end_of_turn]
                    break
                self.unfed = [token]
                stats.new_tokens += 1
                text = utf8.decode(self.llm.tokenizer.decode_bytes([token]))
                if text:
                    yield text
                if len(self.ids) >= self.max_context:
                    stats.stopped = "context full"
                    break
                logits = self._feed([token])
                stats.decode_seconds = time.perf_counter() - t1
        finally:
            if read and chat and stats.stopped != "end of answer":
                self.unfed.append(self.llm.end_of_turn)  # close the answer as shown
            elif not read:
                stats.stopped = "interrupted"
