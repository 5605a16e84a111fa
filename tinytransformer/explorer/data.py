"""The explorer's data: one JSON-able dict per page, collected from a model and a sentence.

    {"model", "checkpoint", "sentence", "output",
     "kinds": [{"name", "label", "note", "causal", "queries", "keys",
                "weights" [L][H][T_q][T_k], "q" [L][H][T_q][D], "k" [L][H_kv][T_k][D]}, ...],
     "next": {"after", "logits" [V], "top" [K ids], "top_tokens" [K]}}     (decoder-only models)

A model trained for another target than the next token can retitle its output panel by setting
data["next"]["title"] before `render(data)`.

`weights` are the model's own attention weights; `q` and `k` are the vectors the neuron view
multiplies (capture.py). Numbers keep 7 significant digits: float32 holds about 7, and the
page's numbers then match the model's to ~1e-7.
"""

from __future__ import annotations

import numpy as np

from ..nn import GroupedQueryAttention, MultiHeadAttention, inference
from .capture import query_key, recording

LABELS = {"encoder_self": "encoder self-attention", "decoder_self": "decoder self-attention",
          "cross": "cross-attention", "self": "self-attention"}
NOTES = {"decoder_self": "A decoder query is labelled by the token it predicts, a key by the "
                         "token it reads (<bos> first). Causal: a query sees its own position "
                         "and the earlier ones.",
         "cross": "Decoder queries (labelled by the token they predict) read the encoder's "
                  "output at every source token.",
         "self": "Causal: each token sees itself and the tokens before it."}
TOP = 10  # next-token candidates listed


def rounded(a) -> list:
    """Nested lists of floats with 7 significant digits (compact JSON, float32's precision)."""
    a = np.asarray(a, dtype=np.float64)
    flat = [float(f"{x:.7g}") for x in a.ravel().tolist()]
    return np.array(flat).reshape(a.shape).tolist()


def kind_data(name: str, weights, keys, queries, qk, causal: bool) -> dict:
    """One family of attention maps: weights [L, H, T_q, T_k], token labels, and per layer the
    (q [H, T_q, D], k [H_kv, T_k, D]) of capture.query_key."""
    L, H, T_q, T_k = np.shape(weights)
    q, k = np.stack([q for q, _ in qk]), np.stack([k for _, k in qk])  # [L, H, T_q, D], ...
    if q.shape[:3] != (L, H, T_q) or k.shape[2] != T_k or len(keys) != T_k:
        raise ValueError(f"explorer: {name} has weights {np.shape(weights)}, q {q.shape}, "
                         f"k {k.shape}, {len(queries)} query and {len(keys)} key labels")
    return {"name": name, "label": LABELS.get(name, name), "note": NOTES.get(name, ""),
            "causal": causal, "queries": list(queries), "keys": list(keys),
            "weights": rounded(weights), "q": rounded(q), "k": rounded(k)}


def describe(model) -> str:
    """"Transformer: 1,019,886 parameters, d_model 128, num_heads 4, ..." from its config."""
    c = model.config
    sizes = [f"{name} {getattr(c, name)}" for name in
             ("d_model", "num_heads", "num_kv_heads", "num_layers", "num_encoder_layers",
              "num_decoder_layers", "vocab_size") if hasattr(c, name)]
    return f"{type(model).__name__}: {model.num_parameters():,} parameters, {', '.join(sizes)}"


def translator_data(model, vocabs, sentence: str, checkpoint: str = "") -> dict:
    """Encoder self-, decoder self- and cross-attention of `sentence`'s greedy translation."""
    from ..translate import attention_maps

    modules = {"encoder_self": [layer.self_attn for layer in model.encoder.layers],
               "decoder_self": [layer.self_attn for layer in model.decoder.layers],
               "cross": [layer.cross_attn for layer in model.decoder.layers]}
    with recording([m for ms in modules.values() for m in ms]) as calls:
        translation, maps = attention_maps(model, vocabs, sentence)  # its last pass: the maps'
    kinds = [kind_data(name, *maps[name], [query_key(m, calls[m]) for m in ms],
                       causal=name == "decoder_self") for name, ms in modules.items()]
    return {"model": describe(model), "checkpoint": str(checkpoint), "sentence": sentence,
            "output": translation, "kinds": kinds}


def decoder_only_data(model, tokenizer, text, checkpoint: str = "") -> dict:
    """Self-attention of a decoder-only model (`LanguageModel`, `Llama`) over `text`, and its
    next-token logits after the last token.

    `text` is a string (encoded by `tokenizer.encode`) or a list of token ids; `tokenizer` is
    anything with `tokens(ids)` (the tokenizers), `decode(ids, strip_specials=False)` (a
    Vocab) or a list of labels indexed by id."""
    ids = tokenizer.encode(text) if isinstance(text, str) else [int(i) for i in text]
    if not ids:
        raise ValueError(f"explorer: {text!r} has no tokens to look at")
    modules = [m for m in model.modules()
               if isinstance(m, (MultiHeadAttention, GroupedQueryAttention))]
    with recording(modules) as calls, inference(model):
        logits, maps = model(np.array([ids]), need_weights=True)  # [1, T, V], L x [1, H, T, T]
    labels = token_labels(tokenizer, ids)
    kind = kind_data("self", np.stack([w[0] for w in maps]), labels, labels,
                     [query_key(m, calls[m]) for m in modules], causal=True)
    if isinstance(modules[0], GroupedQueryAttention):
        kind["note"] += " q and k are shown after RoPE: the rotation is how position enters q . k."
    return {"model": describe(model), "checkpoint": str(checkpoint),
            "sentence": text if isinstance(text, str) else " ".join(labels), "output": None,
            "kinds": [kind], "next": next_token(logits.data[0, -1], tokenizer, labels[-1])}


def next_token(logits, tokenizer, after: str) -> dict:
    """All V logits of the last position (for any temperature) and the top candidates."""
    top = np.argsort(-logits, kind="stable")[:TOP]
    return {"after": after, "logits": rounded(logits), "top": top.tolist(),
            "top_tokens": token_labels(tokenizer, top.tolist())}


def token_labels(tokenizer, ids) -> list[str]:
    if hasattr(tokenizer, "tokens"):
        return list(tokenizer.tokens(ids))
    if hasattr(tokenizer, "decode"):
        return list(tokenizer.decode(ids, strip_specials=False))
    return [str(tokenizer[i]) for i in ids]
