"""Using a trained translator: load it, translate sentences, score them, look at attention."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint
from .data import BOS_ID, UNK_ID, Vocab, pad
from .data.tokenize import detokenize_zh, tokenize_en
from .decode import beam_search, greedy
from .models import Transformer, TransformerConfig
from .nn import inference


def load_translator(path: str | Path):
    """(model, (src_vocab, tgt_vocab), meta) from a checkpoint folder such as runs/toy/best."""
    ckpt = load_checkpoint(path)
    model = Transformer(TransformerConfig.from_dict(ckpt.meta["model_config"]))
    model.load_state_dict(ckpt.tensors)
    model.eval()
    vocabs = tuple(Vocab.from_json(ckpt.meta[k]) for k in ("src_vocab", "tgt_vocab"))
    return model, vocabs, ckpt.meta


def encode_sources(src_vocab: Vocab, sentences: list[str], max_len: int | None = None):
    """English sentences -> padded ids [B, S], each cut to `max_len` tokens (the model's
    context); an empty sentence becomes one <unk>."""
    return pad([src_vocab.encode(tokenize_en(s)[:max_len]) or [UNK_ID] for s in sentences])


def translate(model, vocabs, sentences: list[str], beam_size: int = 1,
              length_alpha: float = 0.6, batch_size: int = 100) -> list[str]:
    """English sentences -> Chinese strings, greedy (beam_size 1) or by beam search.

    A blank sentence translates to "" (the model is not asked to invent one)."""
    src_vocab, tgt_vocab = vocabs
    todo = [i for i, s in enumerate(sentences) if s.strip()]
    out = [""] * len(sentences)
    for start in range(0, len(todo), batch_size):
        rows = todo[start:start + batch_size]
        src = encode_sources(src_vocab, [sentences[i] for i in rows], model.config.max_len)
        ids = (greedy(model, src) if beam_size == 1
               else beam_search(model, src, beam_size, length_alpha=length_alpha))
        for i, row in zip(rows, ids):
            out[i] = detokenize_zh(tgt_vocab.decode(row))
    return out


def input_warnings(model, src_vocab: Vocab, sentences: list[str]) -> list[str]:
    """What a user should know before trusting a translation: unknown words, cut sentences."""
    out = []
    for n, s in enumerate(sentences, start=1):
        tokens = tokenize_en(s)
        unknown = [t for t in tokens if t not in src_vocab]
        where = f"sentence {n}" if len(sentences) > 1 else "the sentence"
        if len(unknown) * 2 > len(tokens):
            out.append(f"{where}: {len(unknown)} of {len(tokens)} words are not in the model's "
                       f"vocabulary ({', '.join(unknown[:5])}): expect a poor translation")
        if len(tokens) > model.config.max_len:
            out.append(f"{where} has {len(tokens)} tokens; the model reads at most "
                       f"{model.config.max_len}, so it was cut there")
    return out


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU by sacrebleu, with its Chinese tokenisation."""
    import sacrebleu

    return sacrebleu.corpus_bleu(hypotheses, [references], tokenize="zh").score


def attention_maps(model, vocabs, sentence: str):
    """Translate `sentence` greedily, then collect every attention map of that translation.

    Returns (translation, {kind: (weights [L, H, T_q, T_k], key tokens, query tokens)}) for
    kind in encoder_self, decoder_self and cross. Decoder queries are labelled by the token
    they predict; decoder keys by the token they read (<bos> first).
    """
    src_vocab, tgt_vocab = vocabs
    src = encode_sources(src_vocab, [sentence], model.config.max_len)  # [1, S]
    out_ids = greedy(model, src)[0]
    tgt_in = np.array([[BOS_ID, *out_ids]])  # <bos> y_1 .. y_n
    with inference(model):
        _, maps = model(src, tgt_in, need_weights=True)
    src_tokens = src_vocab.decode(src[0], strip_specials=False)
    read = tgt_vocab.decode(tgt_in[0], strip_specials=False)
    wrote = [*tgt_vocab.decode(out_ids, strip_specials=False), "<eos>"]
    stacked = {k: np.stack([w[0] for w in maps[k]]) for k in maps}  # [L, H, T_q, T_k]
    translation = detokenize_zh(tgt_vocab.decode(out_ids))
    return translation, {"encoder_self": (stacked["encoder_self"], src_tokens, src_tokens),
                         "decoder_self": (stacked["decoder_self"], read, wrote),
                         "cross": (stacked["cross"], src_tokens, wrote)}
