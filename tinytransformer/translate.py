"""Using a trained translator: load it, translate sentences, score them, look at attention.

    model, vocabs, meta = load_translator("runs/toy/best")
    translate(model, vocabs, ["i read books at home ."])   -> ["我在家看书。"]
    bleu(hyps, refs, "zh"), chrf(hyps, refs)

`vocabs` is a pair (source vocabulary, target vocabulary) that also knows its `sides`: the
languages and how each side's text is cut into tokens and joined back (data/languages.py), so
a French->English checkpoint reads French and writes English with no further argument.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint
from .data import BOS_ID, UNK_ID, Vocab, pad
from .data.languages import DEFAULT_SIDES, EN_WORDS, Side, bleu_tokenize
from .decode import beam_search, greedy
from .models import Transformer, TransformerConfig
from .models.rnn import RNNConfig, RNNTranslator
from .nn import inference


class Vocabs(tuple):
    """(src_vocab, tgt_vocab), unpacked like a pair, with `.sides`: (source Side, target Side)."""

    def __new__(cls, src_vocab: Vocab, tgt_vocab: Vocab, sides=DEFAULT_SIDES):
        pair = super().__new__(cls, (src_vocab, tgt_vocab))
        pair.sides = tuple(sides)
        return pair


def sides_of(vocabs) -> tuple[Side, Side]:
    """The sides of `vocabs`; a plain pair of vocabularies is the first direction, en -> zh."""
    return getattr(vocabs, "sides", DEFAULT_SIDES)


ARCHITECTURES = ("transformer", "rnn", "rnn-attention")


def architecture(value: str) -> str:
    """A value check: one of ARCHITECTURES."""
    if value not in ARCHITECTURES:
        raise ValueError(f"must be one of {', '.join(ARCHITECTURES)}, got {value!r}")
    return value


def translator_config(arch: str, fields: dict):
    """The config of `arch` from its fields (vocabulary sizes included); a field the
    architecture does not have is refused by name."""
    if arch == "transformer":
        return TransformerConfig.from_dict(fields)
    other = sorted(set(fields) - {f.name for f in dataclasses.fields(RNNConfig)})
    if other:
        raise ValueError(f"--arch {arch} has no {', '.join(other)}: a GRU encoder-decoder's "
                         f"size is its d_model alone")
    return RNNConfig.from_dict({**fields, "attention": arch == "rnn-attention"})


def build_translator(arch: str, fields: dict):
    """A Transformer, or an RNN encoder-decoder without or with attention (models/rnn.py)."""
    config = translator_config(arch, fields)
    return Transformer(config) if arch == "transformer" else RNNTranslator(config)


def load_translator(path: str | Path):
    """(model, Vocabs, meta) from a checkpoint folder such as runs/toy/best."""
    ckpt = load_checkpoint(path)
    arch = ckpt.meta.get("train_config", {}).get("arch", "transformer")
    model = build_translator(arch, ckpt.meta["model_config"])
    model.load_state_dict(ckpt.tensors)
    model.eval()
    sides = [Side.from_json(s) for s in ckpt.meta.get("sides", [])] or DEFAULT_SIDES
    vocabs = Vocabs(*(Vocab.from_json(ckpt.meta[k]) for k in ("src_vocab", "tgt_vocab")), sides)
    return model, vocabs, ckpt.meta


def encode_sources(src_vocab: Vocab, sentences: list[str], max_len: int | None = None,
                   side: Side = EN_WORDS):
    """Source sentences -> padded ids [B, S], each cut to `max_len` tokens (the model's
    context); an empty sentence becomes one <unk>."""
    return pad([src_vocab.encode(side.tokenize(s)[:max_len]) or [UNK_ID] for s in sentences])


def translate(model, vocabs, sentences: list[str], beam_size: int = 1,
              length_alpha: float = 0.6, batch_size: int = 100) -> list[str]:
    """Source sentences -> target strings, greedy (beam_size 1) or by beam search.

    A blank sentence translates to "" (the model is not asked to invent one)."""
    src_vocab, tgt_vocab = vocabs
    src_side, tgt_side = sides_of(vocabs)
    todo = [i for i, s in enumerate(sentences) if s.strip()]
    out = [""] * len(sentences)
    for start in range(0, len(todo), batch_size):
        rows = todo[start:start + batch_size]
        src = encode_sources(src_vocab, [sentences[i] for i in rows], model.config.max_len,
                             src_side)
        ids = (greedy(model, src) if beam_size == 1
               else beam_search(model, src, beam_size, length_alpha=length_alpha))
        for i, row in zip(rows, ids):
            out[i] = tgt_side.detokenize(tgt_vocab.decode(row))
    return out


def input_warnings(model, src_vocab: Vocab, sentences: list[str],
                   side: Side = EN_WORDS) -> list[str]:
    """What a user should know before trusting a translation: unknown tokens, cut sentences."""
    out = []
    for n, s in enumerate(sentences, start=1):
        tokens = side.tokenize(s)
        unknown = [t for t in tokens if t not in src_vocab]
        where = f"sentence {n}" if len(sentences) > 1 else "the sentence"
        if len(unknown) * 2 > len(tokens):
            unit = "words" if side.tokenizer == "words" else "tokens"
            out.append(f"{where}: {len(unknown)} of {len(tokens)} {unit} are not in the model's "
                       f"vocabulary ({', '.join(unknown[:5])}): expect a poor translation")
        if len(tokens) > model.config.max_len:
            out.append(f"{where} has {len(tokens)} tokens; the model reads at most "
                       f"{model.config.max_len}, so it was cut there")
    return out


def bleu(hypotheses: list[str], references: list[str], lang: str = "zh") -> float:
    """Corpus BLEU by sacrebleu, tokenised as references in `lang` are (`bleu_tokenize`:
    "zh" for Chinese, "13a" for languages written with spaces)."""
    import sacrebleu

    return sacrebleu.corpus_bleu(hypotheses, [references], tokenize=bleu_tokenize(lang)).score


def chrf(hypotheses: list[str], references: list[str]) -> float:
    """Corpus chrF by sacrebleu: character n-grams, so no tokenisation to choose."""
    import sacrebleu

    return sacrebleu.corpus_chrf(hypotheses, [references]).score


def attention_maps(model, vocabs, sentence: str):
    """Translate `sentence` greedily, then collect every attention map of that translation.

    Returns (translation, {kind: (weights [L, H, T_q, T_k], key tokens, query tokens)}) for
    kind in encoder_self, decoder_self and cross. Decoder queries are labelled by the token
    they predict; decoder keys by the token they read (<bos> first).
    """
    src_vocab, tgt_vocab = vocabs
    src_side, tgt_side = sides_of(vocabs)
    src = encode_sources(src_vocab, [sentence], model.config.max_len, src_side)  # [1, S]
    out_ids = greedy(model, src)[0]
    tgt_in = np.array([[BOS_ID, *out_ids]])  # <bos> y_1 .. y_n
    with inference(model):
        _, maps = model(src, tgt_in, need_weights=True)
    src_tokens = src_vocab.decode(src[0], strip_specials=False)
    read = tgt_vocab.decode(tgt_in[0], strip_specials=False)
    wrote = [*tgt_vocab.decode(out_ids, strip_specials=False), "<eos>"]
    stacked = {k: np.stack([w[0] for w in maps[k]]) for k in maps if maps[k]}  # [L, H, T_q, T_k]
    translation = tgt_side.detokenize(tgt_vocab.decode(out_ids))
    labels = {"encoder_self": (src_tokens, src_tokens), "decoder_self": (read, wrote),
              "cross": (src_tokens, wrote)}  # an RNN has cross-attention at most
    return translation, {k: (stacked[k], *labels[k]) for k in labels if k in stacked}


def forced_cross_attention(model, vocabs, pairs: list[tuple[str, str]]) -> list[np.ndarray]:
    """Cross-attention while the decoder reads the reference (teacher forcing), one
    [L, H, T + 1, S] per pair: row t is the step that writes reference token t, the last row
    writes <eos>. This is what alignments are scored on (the model's own output may differ)."""
    src_vocab, tgt_vocab = vocabs
    src_side, tgt_side = sides_of(vocabs)
    out = []
    with inference(model):
        for src_text, tgt_text in pairs:
            src = encode_sources(src_vocab, [src_text], model.config.max_len, src_side)
            tgt_in = np.array([[BOS_ID, *tgt_vocab.encode(tgt_side.tokenize(tgt_text))]])
            _, maps = model(src, tgt_in, need_weights=True)
            out.append(np.stack([w[0] for w in maps["cross"]]))  # L x [H, T + 1, S]
    return out
