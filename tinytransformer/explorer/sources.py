"""Where a page's model comes from, for `tinytransformer attention --html`: a checkpoint folder
(a translator's, or a language model's: its meta holds a tokenizer), or a pretrained model by
name (`--model smollm2`)."""

from __future__ import annotations

from pathlib import Path

PRETRAINED = ("smollm2",)


def load_pretrained(name: str):
    """(Llama, its BPE tokenizer) from a fetched GGUF file (`tinytransformer fetch NAME`)."""
    from ..models.llama import Llama
    from ..pretrained import GGUFFile, model_path
    from ..tokenizers import BPETokenizer

    with GGUFFile(model_path(name)) as f:
        return Llama.from_gguf(f), BPETokenizer.from_gguf_metadata(f.metadata)


def load_checkpoint_model(path):
    """(model, tokenizer or vocabs) from a translator's or a language model's checkpoint."""
    from ..checkpoint import checkpoint_exists, load_meta

    if not checkpoint_exists(path):
        raise ValueError(f"{path}: no checkpoint there; train one first (`tinytransformer "
                         "train` for a translator), or pass --checkpoint DIR or --model NAME")
    if "tokenizer" in load_meta(path):  # what a language model's run saves beside its weights
        from ..lm_train import load_language_model

        model, tokenizer, _ = load_language_model(path)
        return model, tokenizer
    from ..translate import load_translator

    model, vocabs, _ = load_translator(path)
    return model, vocabs


def write_page(out, sentence: str, checkpoint=None, name: str | None = None) -> str:
    """Write the explorer of `sentence` for the model `name` or in `checkpoint` to the file
    `out`; returns a line saying what was written."""
    from . import attention_page

    model, tokenizer = load_pretrained(name) if name else load_checkpoint_model(checkpoint)
    page = attention_page(model, tokenizer, sentence, name or checkpoint)
    Path(out).write_text(page, encoding="utf-8")
    return (f"attention explorer of {name or checkpoint} for {sentence!r} saved to {out} "
            f"({len(page.encode()) / 1e6:.2f} MB): open it in a browser")
