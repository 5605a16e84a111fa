"""SmolLM2-135M-Instruct in one call: the model, its tokenizer and its chat template, all read
from the one GGUF file that `tinytransformer fetch smollm2` put in the cache.

    llm = load_smollm2()                      # weights kept 4-bit, about a second
    chat = ChatSession(llm)                   # pretrained/session.py
    print("".join(chat.say("What is the capital of France?")))

`weights="float32"` de-quantises once and multiplies with BLAS instead (538 MB instead of
112 MB; `tinytransformer bench llm` measures both).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..models.llama_fast import FastLlama
from ..tokenizers import BPETokenizer
from ..tokenizers.chat import default_system_from_template
from .gguf import GGUFFile
from .registry import model_path

__all__ = ["PretrainedLLM", "load_smollm2"]


@dataclass
class PretrainedLLM:
    """A chat model ready to run: `model(ids, cache, last_only)`, its tokenizer, the system
    message its template adds when none is given, and the tokens that end an answer."""

    name: str
    model: FastLlama
    tokenizer: BPETokenizer
    default_system: str
    stop_ids: frozenset[int]
    path: Path

    @property
    def max_len(self) -> int:
        """The context the model was trained for, in tokens (SmolLM2: 8192)."""
        return self.model.config.max_len

    @property
    def end_of_turn(self) -> int:
        """<|im_end|>: closes a message in ChatML."""
        return self.tokenizer.special_tokens["<|im_end|>"]


def load_smollm2(weights: str = "q4", path=None) -> PretrainedLLM:
    """SmolLM2-135M-Instruct from the cache (ModelNotFetchedError, naming the command that
    fetches it, if it is not there) or from `path`."""
    path = Path(path) if path is not None else model_path("smollm2")
    with GGUFFile(path) as f:
        model = FastLlama.from_gguf(f, weights)
        tok = BPETokenizer.from_gguf_metadata(f.metadata)
        system = default_system_from_template(f.metadata["tokenizer.chat_template"])
    specials = tok.special_tokens
    stop = {tok.eos_id, specials["<|im_end|>"], specials.get("<|endoftext|>", tok.eos_id)}
    return PretrainedLLM("smollm2", model, tok, system, frozenset(stop), path)
