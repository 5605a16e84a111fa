"""Training a language model on any UTF-8 text file (§2.1): P(w_1..w_T) = prod_t P(w_t | w_<t).

    loss     = CE(model(x), y)  over windows x = s[i : i+T], y = s[i+1 : i+T+1] of the stream
    lr       = cosine schedule: linear warm-up, then down to lr/10 at the last step
    PPL_char = exp(sum of -log P over a split's tokens / the characters they spell)

The text, its splits, the tokenizer (characters or byte-level BPE) and the windows come from
`data/documents.py`; the loop (steps or minutes, evaluation, `latest/` and `best/`, Ctrl-C, the
NaN guard, resume equal to an uninterrupted run) is `loop.TrainingRun`, the translator's too.
`best/` keeps the lowest validation perplexity per character, so runs with different
tokenizers are compared on the same scale. The tokenizer is saved in each checkpoint.

Step s draws its batch from an RNG seeded by (seed, s): a resumed run draws the batches an
uninterrupted one would. The cosine spans `--steps`, so a run stopped early (Ctrl-C, --minutes)
and resumed with the same --steps is the uninterrupted run; a larger --steps on resume
stretches what is left of the schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import functional as F
from .checkpoint import load_checkpoint
from .data.documents import (
    TOKENIZERS,
    TextCorpus,
    count_chars,
    eval_windows,
    load_text_corpus,
    random_windows,
    to_stream,
)
from .data.fortunes import SHORTCUTS, resolve_data
from .loop import TrainingRun
from .models import LanguageModel, LanguageModelConfig
from .models.config import known_fields
from .nn import inference
from .optim import AdamW, cosine_lr
from .tokenizers import BPETokenizer, CharTokenizer, Tokenizer
from .values import check_fields, nonnegative_float, option, positive_float, positive_int


def tokenizer_kind(value) -> str:
    if value not in TOKENIZERS:
        raise ValueError(f"must be one of {', '.join(TOKENIZERS)}, got {value!r}")
    return value


@dataclass
class LMTrainConfig:
    """A language model's training run; the `lm train` flags are built from these fields."""

    data: str | None = option(None, f"a UTF-8 text file, or a shortcut for a fortune file "
                                    f"({', '.join(SHORTCUTS)})")
    tokenizer: str = option("chars", "chars (one token per character) or bpe (byte-level BPE "
                                     "trained on the training text)", tokenizer_kind)
    vocab_size: int | None = option(None, "chars: keep the most frequent characters (default: "
                                          "all); bpe: 256 bytes + merges + 1 (default: 1024)",
                                    positive_int)
    context: int = option(128, "tokens the model reads at once (T, its max_len)", positive_int)
    steps: int = option(2000, "training steps", positive_int)
    minutes: float | None = option(None, "stop after this much wall time", positive_float)
    batch_size: int = option(32, "windows of `context` tokens per step", positive_int)
    lr: float = option(3e-3, "peak learning rate of the cosine schedule", positive_float)
    warmup: int = option(100, "warm-up steps of the schedule", positive_int)
    weight_decay: float = option(0.01, "AdamW's decoupled weight decay", nonnegative_float)
    clip: float = option(1.0, "clip the gradient norm to this", positive_float)
    eval_every: int = option(250, "steps between evaluations and checkpoints", positive_int)
    seed: int = option(0, "random seed (splits, weights, batches, dropout)")
    model: dict = option({}, "LanguageModelConfig fields (d_model, num_heads, ...) other than "
                             "vocab_size (from the tokenizer) and max_len (= context)")

    def __post_init__(self):
        check_fields(self)
        if self.tokenizer == "bpe" and self.vocab_size is not None and self.vocab_size < 258:
            raise ValueError(f"LMTrainConfig: vocab_size {self.vocab_size} is too small for "
                             f"bpe: 256 bytes and <|endoftext|> come first (at least 258)")
        model_config(self, vocab_size=1)  # the model fields are checked now, not after the data


def model_config(cfg: LMTrainConfig, vocab_size: int) -> LanguageModelConfig:
    fields = known_fields(LanguageModelConfig, cfg.model)
    return LanguageModelConfig(**{"seed": cfg.seed, **fields, "vocab_size": vocab_size,
                                  "max_len": cfg.context})


def tokenizer_from_json(data: dict) -> Tokenizer:
    """The tokenizer a checkpoint saved (characters or BPE)."""
    kinds = {"chars": CharTokenizer, "bpe": BPETokenizer}
    return kinds[data["type"]].from_json(data)


def score_stream(model, stream: np.ndarray, chars: int) -> dict:
    """NLL of every next token of `stream` [N], without dropout, as mean per token (nats),
    perplexity per token and perplexity per character."""
    total = 0.0
    with inference(model):
        for x, y in eval_windows(stream, model.config.max_len):
            total += F.cross_entropy(model(x), y, reduction="sum").item()
    n = len(stream) - 1
    return {"loss": total / n, "ppl": math.exp(total / n), "ppl_char": math.exp(total / chars),
            "tokens": n, "chars": chars}


class LMTrainer(TrainingRun):
    """A language model's run on `cfg.data`; `corpus` holds its splits, tokenizer and streams."""

    score_key, score_name, higher_is_better = "valid_ppl_char", "valid PPL/char", False
    lr_hint = "A lower --lr or a longer --warmup usually helps"

    def data_path(self, data: str) -> Path:
        return resolve_data(data)

    def build(self, ckpt) -> None:
        cfg = self.cfg
        if cfg.data is None:
            raise ValueError(f"LMTrainConfig: data is required: a UTF-8 text file, or one of "
                             f"{', '.join(SHORTCUTS)}")
        tok = tokenizer_from_json(ckpt.meta["tokenizer"]) if ckpt is not None else None
        self.corpus: TextCorpus = load_text_corpus(cfg.data, cfg.tokenizer, cfg.vocab_size,
                                                   cfg.seed, cfg.context, tok)
        self.tokenizer = self.corpus.tokenizer
        self.model = LanguageModel(model_config(cfg, self.tokenizer.vocab_size))
        self.opt = AdamW(self.model.parameters(), lr=0.0, betas=(0.9, 0.95),
                         weight_decay=cfg.weight_decay)

    def meta(self) -> dict:
        c = self.corpus
        sizes = {name: {"documents": len(c.docs[name]), "tokens": len(c.streams[name]),
                        "chars": c.chars[name]} for name in c.docs}
        return {**super().meta(), "tokenizer": self.tokenizer.to_json(), "splits": sizes}

    def batches_from(self, step: int):
        """Step s's batch: `batch_size` random windows drawn with the RNG (seed, s)."""
        while True:
            rng = np.random.default_rng([self.cfg.seed, step])
            yield random_windows(self.corpus.streams["train"], self.cfg.context,
                                 self.cfg.batch_size, rng)
            step += 1

    def loss(self, batch):
        x, y = batch  # [B, T] each
        return F.cross_entropy(self.model(x), y)  # no padding: every window is full

    def learning_rate(self, step: int) -> float:
        cfg = self.cfg
        return cosine_lr(step, cfg.lr, min(cfg.warmup, cfg.steps), cfg.steps, cfg.lr / 10)

    def batch_tokens(self, batch) -> int:
        return batch[0].size

    def evaluate(self) -> dict:
        r = score_stream(self.model, self.corpus.streams["valid"], self.corpus.chars["valid"])
        return {"step": self.step, "valid_loss": r["loss"], "valid_ppl": r["ppl"],
                "valid_ppl_char": r["ppl_char"]}

    def describe(self, result: dict) -> str:
        return (f"valid loss {result['valid_loss']:.3f}, perplexity {result['valid_ppl']:.2f} "
                f"per token, {result['valid_ppl_char']:.2f} per character")

    def save_curves(self) -> None:
        import matplotlib.pyplot as plt

        plt.close(plot_lm_curves(self.history, self.run_dir / "curves.png"))


def plot_lm_curves(history: list[dict], path=None):
    """Loss (train and valid, nats per token) and valid perplexity per character, by step."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_ppl) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    train = [h for h in history if "train_loss" in h]
    valid = [h for h in history if "valid_loss" in h]
    ax_loss.plot([h["step"] for h in train], [h["train_loss"] for h in train], label="train")
    ax_loss.plot([h["step"] for h in valid], [h["valid_loss"] for h in valid], "o-",
                 label="valid")
    ax_loss.set(xlabel="step", ylabel="loss (nats per token)", title="loss")
    ax_loss.legend()
    ax_ppl.plot([h["step"] for h in valid], [h["valid_ppl_char"] for h in valid], "o-",
                color="C2")
    ax_ppl.set(xlabel="step", ylabel="perplexity per character", yscale="log",
               title="validation perplexity per character")
    for ax in (ax_loss, ax_ppl):
        ax.grid(alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def load_language_model(path: str | Path):
    """(model, tokenizer, meta) from a checkpoint folder such as runs/lm/best."""
    ckpt = load_checkpoint(path)
    model = LanguageModel(LanguageModelConfig.from_dict(ckpt.meta["model_config"]))
    model.load_state_dict(ckpt.tensors)
    model.eval()
    return model, tokenizer_from_json(ckpt.meta["tokenizer"]), ckpt.meta


def score_documents(model, tokenizer: Tokenizer, docs: list[str]) -> dict:
    """`score_stream` of documents (each one's end is predicted too)."""
    return score_stream(model, to_stream(tokenizer, docs), count_chars(docs))
