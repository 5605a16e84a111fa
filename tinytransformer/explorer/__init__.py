"""The attention explorer: one self-contained HTML page for a model and a sentence.

    from tinytransformer.explorer import attention_page, notebook_html
    page = attention_page(model, vocabs, "i read books at home .")     # the translator
    page = attention_page(lm, tokenizer, "once upon a time")            # a LanguageModel or Llama
    Path("attention.html").write_text(page, encoding="utf-8")
    display(HTML(notebook_html(page)))                                  # in Jupyter

Views: the head view (queries and keys in two columns, a line per pair weighted by attention),
the model view (every layer and head as a thumbnail), the neuron view (one query's vector
against each key's, multiplied, summed, scaled and put through the softmax, number by number)
and, for decoder-only models, the next token's distribution with a temperature slider.
`tinytransformer attention SENTENCE --html FILE` writes the page from the command line.
"""

from __future__ import annotations

from .page import notebook_html, render  # light: the command line's --help imports this package

__all__ = ["attention_page", "page_data", "notebook_html", "render"]


def page_data(model, tokenizer, sentence, checkpoint: str = "") -> dict:
    """The page's data for a translator (`tokenizer` = its (src_vocab, tgt_vocab)) or a
    decoder-only model (`tokenizer`: see data.decoder_only_data)."""
    from ..models import Transformer
    from .data import decoder_only_data, translator_data

    if isinstance(model, Transformer):
        return translator_data(model, tokenizer, sentence, checkpoint)
    return decoder_only_data(model, tokenizer, sentence, checkpoint)


def attention_page(model, tokenizer, sentence, checkpoint: str = "") -> str:
    """The explorer as one HTML document (its JavaScript, CSS and data inline)."""
    return render(page_data(model, tokenizer, sentence, checkpoint))
