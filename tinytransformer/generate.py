"""Sampling text from a language model (§2.1): draw w_t ~ P(w | w_<t), append it, repeat.

    P_tau(w | w_<t) = exp(z_w / tau) / sum_v exp(z_v / tau)

z are the model's logits for the next token and tau the temperature: tau = 1 samples the model's
own distribution, tau < 1 sharpens it (tau -> 0 is greedy argmax), tau > 1 flattens it. Top-k
keeps the k most likely tokens; top-p (nucleus sampling, Holtzman et al. 2020) keeps the
smallest set of most likely tokens whose probability reaches p. A repetition penalty r > 1
(CTRL, Keskar et al. 2019) discourages tokens already in the text: z_w / r where z_w > 0, z_w r
where not. The three are Hugging Face's logits processors (tests/test_generate.py compares them).
The model is run incrementally with a key/value cache, so each new token costs O(t), not O(t^2).

    rows = generate(lm, [[BOS_ID]] * 3, max_new_tokens=20, temperature=0.8, eos_id=EOS_ID,
                    rng=np.random.default_rng(0))
"""

from __future__ import annotations

import numpy as np

from .nn import KVCache, inference


def temperature_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """P_tau = softmax(z / tau) along the last axis.  logits [..., V] -> probabilities [..., V]"""
    if temperature <= 0:
        raise ValueError(f"temperature_softmax: temperature must be > 0, got {temperature} "
                         "(use temperature=0 in sample_next for greedy argmax)")
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # stable: the largest exponent is 0
    return e / e.sum(axis=-1, keepdims=True)


def top_p_filter(p: np.ndarray, top_p: float) -> np.ndarray:
    """P'(w) = P(w) / P(V_p) for w in V_p, else 0, where V_p is the smallest set of most
    likely tokens with P(V_p) >= top_p (the most likely token always).  p [B, V] -> [B, V]"""
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    order = np.argsort(-p, axis=-1, kind="stable")  # [B, V]: most likely first
    p_sorted = np.take_along_axis(p, order, axis=-1)
    keep_sorted = p_sorted.cumsum(-1) - p_sorted < top_p  # the mass before it is below p
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    p = np.where(keep, p, 0.0)
    return p / p.sum(axis=-1, keepdims=True)


def repetition_penalty(logits: np.ndarray, seen, penalty: float) -> np.ndarray:
    """z_w / penalty where z_w > 0, z_w * penalty where not, for each token w in its row of
    `seen` (once, however often it occurs).  logits [B, V], seen [B, t] ids -> [B, V]"""
    if penalty <= 0:
        raise ValueError(f"repetition_penalty: penalty must be > 0, got {penalty}")
    out = np.array(logits, dtype=np.float64)
    rows = np.arange(len(out))[:, None]  # [B, 1], against seen [B, t]
    z = out[rows, seen]
    out[rows, seen] = np.where(z > 0, z / penalty, z * penalty)
    return out


def top_k_filter(logits: np.ndarray, top_k: int) -> np.ndarray:
    """-inf for all but the top_k largest logits of each row (ties with the k-th stay).
    logits [B, V] -> [B, V]"""
    kth = np.sort(logits, axis=-1)[:, -top_k][:, None]  # [B, 1]: the k-th largest logit
    return np.where(logits >= kth, logits, -np.inf)


def next_token_probs(logits: np.ndarray, temperature: float, top_k: int | None = None,
                     top_p: float | None = None) -> np.ndarray:
    """P_tau restricted to the `top_k` most likely tokens (all of them if None), then to the
    nucleus of mass `top_p` (`top_p_filter`; none if None).  logits [B, V] -> p [B, V]"""
    logits = np.asarray(logits, dtype=np.float64)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    p = temperature_softmax(logits, temperature)  # [B, V]
    return p if top_p is None else top_p_filter(p, top_p)


def sample_next(logits: np.ndarray, temperature: float, rng: np.random.Generator,
                top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """One token per row: argmax when temperature == 0, else a draw from `next_token_probs`.
    logits [B, V] -> ids [B]"""
    if temperature == 0:
        return np.asarray(logits).argmax(-1)
    p = next_token_probs(logits, temperature, top_k, top_p)  # [B, V]
    u = rng.random((len(p), 1))  # inverse-CDF sampling, one uniform draw per row
    return np.minimum((p.cumsum(-1) < u).sum(-1), p.shape[-1] - 1)


def generate(model, prompt, max_new_tokens: int, temperature: float = 1.0,
             rng: np.random.Generator | None = None, eos_id: int | None = None,
             top_k: int | None = None, use_cache: bool = True, top_p: float | None = None,
             on_token=None, penalty: float | None = None) -> list[list[int]]:
    """Continue each row of `prompt` [B, t] (ids) -> B lists of new ids, cut before `eos_id`.

    `model(tokens, cache=...)` must return logits [B, T, V] (a `models.LanguageModel`).
    Stops after `max_new_tokens`, when every row has produced `eos_id`, or at the model's
    `max_len`. `on_token(ids [B])` is called with each new column as it is drawn, to stream.
    `penalty` is the repetition penalty, over the prompt and what follows it.
    """
    rng = rng if rng is not None else np.random.default_rng()
    ys = np.array(prompt, dtype=np.int64).reshape(len(prompt), -1)  # [B, t]
    t0 = ys.shape[1]
    limit = min(t0 + max_new_tokens, getattr(model.config, "max_len", t0 + max_new_tokens))
    cache = KVCache() if use_cache else None
    done = np.zeros(len(ys), dtype=bool)
    with inference(model):
        logits = model(ys, cache=cache)  # the whole prompt once: [B, t, V]
        while ys.shape[1] < limit and not done.all():
            z = logits.data[:, -1]  # [B, V]
            z = z if penalty is None else repetition_penalty(z, ys, penalty)
            nxt = sample_next(z, temperature, rng, top_k, top_p)  # [B]
            ys = np.concatenate([ys, nxt[:, None]], axis=1)  # [B, t + 1]
            if on_token is not None:
                on_token(nxt)
            done |= nxt == eos_id
            if ys.shape[1] < limit and not done.all():
                logits = model(ys[:, -1:] if use_cache else ys, cache=cache)
    return [_until(row[t0:], eos_id) for row in ys]


def _until(ids: np.ndarray, eos_id: int | None) -> list[int]:
    out = []
    for i in ids.tolist():
        if i == eos_id:
            break
        out.append(i)
    return out
