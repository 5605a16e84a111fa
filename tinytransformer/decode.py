"""Decoding: turn a source sentence into target tokens, one token at a time.

    greedy:  y_t = argmax_y P(y | y_<t, x)
    beam:    keep the k best prefixes by log P(y_<=t | x); finished hypotheses are ranked by
             log P / lp(|y|), with the length penalty lp(n) = ((5 + n) / 6)^alpha (Wu et al. 2016)

Both run the encoder once and, by default, the decoder incrementally: the key/value cache
keeps the earlier positions' keys and values, so step t costs O(t) instead of O(t^2).
"""

from __future__ import annotations

import numpy as np

from .data.vocab import BOS_ID, EOS_ID
from .functional import log_softmax
from .nn import KVCache, inference


def _step_logits(model, ys, memory, src_mask, cache) -> np.ndarray:
    """Log-probabilities of the next token.  ys [B, t] -> [B, V]"""
    logits = model.decode(ys[:, -1:] if cache is not None else ys, memory, src_mask, cache)
    return log_softmax(logits[:, -1]).data


def _fit(max_len: int, model) -> int:
    """At most as many tokens as the model has positions for after <bos> (its config.max_len)."""
    return min(max_len, model.config.max_len - 1)


def greedy(model, src, max_len: int = 50, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
           use_cache: bool = True) -> list[list[int]]:
    """src [B, S] ids -> B lists of target ids (without <bos>/<eos>), argmax at each step."""
    src, max_len = np.asarray(src), _fit(max_len, model)
    pad_id = model.config.pad_id
    with inference(model):
        src_mask = model.src_mask(src)
        memory = model.encode(src, src_mask)
        ys = np.full((len(src), 1), bos_id, dtype=np.int64)  # [B, 1]
        done = np.zeros(len(src), dtype=bool)
        cache = KVCache() if use_cache else None
        for _ in range(max_len):
            nxt = _step_logits(model, ys, memory, src_mask, cache).argmax(-1)
            nxt = np.where(done, pad_id, nxt)
            ys = np.concatenate([ys, nxt[:, None]], axis=1)  # [B, t + 1]
            done |= nxt == eos_id
            if done.all():
                break
    return [_strip(row[1:], eos_id, pad_id) for row in ys]


def _strip(ids, eos_id: int, pad_id: int) -> list[int]:
    out = []
    for i in ids:
        if i == eos_id or i == pad_id:
            break
        out.append(int(i))
    return out


def length_penalty(n: int, alpha: float) -> float:
    """lp(n) = ((5 + n) / 6)^alpha; alpha = 0 ranks by total log-probability."""
    return ((5.0 + n) / 6.0) ** alpha


def beam_search(model, src, beam_size: int = 4, max_len: int = 50, length_alpha: float = 0.6,
                bos_id: int = BOS_ID, eos_id: int = EOS_ID,
                use_cache: bool = True) -> list[list[int]]:
    """src [B, S] ids -> B lists of target ids: the best hypothesis of a beam of `beam_size`."""
    return [_beam_one(model, np.asarray(s)[None], beam_size, _fit(max_len, model), length_alpha,
                      bos_id, eos_id, use_cache) for s in np.asarray(src)]


def _beam_one(model, src, k, max_len, alpha, bos_id, eos_id, use_cache) -> list[int]:
    """Beam search for one sentence; the k beams are the rows of a batch.  src [1, S]"""
    with inference(model):
        src = np.repeat(src[:, : _length(src, model.config.pad_id)], k, axis=0)  # [k, S]
        src_mask = model.src_mask(src)
        memory = model.encode(src, src_mask)
        ys = np.full((k, 1), bos_id, dtype=np.int64)
        scores = np.full(k, -np.inf)
        scores[0] = 0.0  # one live beam to start with: the others are copies of it
        cache = KVCache() if use_cache else None
        finished: list[tuple[float, list[int]]] = []
        for t in range(1, max_len + 1):
            logp = scores[:, None] + _step_logits(model, ys, memory, src_mask, cache)  # [k, V]
            flat = np.argsort(-logp, axis=None, kind="stable")[: 2 * k]
            rows, tokens = np.unravel_index(flat, logp.shape)
            keep = []
            for r, tok in zip(rows, tokens):
                if tok == eos_id:
                    finished.append((logp[r, tok] / length_penalty(t, alpha), ys[r, 1:].tolist()))
                elif len(keep) < k:
                    keep.append((r, tok))
            rows_kept = np.array([r for r, _ in keep])
            ys = np.concatenate([ys[rows_kept], np.array([[tok] for _, tok in keep])], axis=1)
            scores = np.array([logp[r, tok] for r, tok in keep])
            if _settled(finished, scores.max(), t, max_len, k, alpha):
                break
            if cache is not None:
                cache.reorder(rows_kept)
        if not finished:
            finished = [(scores[0] / length_penalty(ys.shape[1] - 1, alpha), ys[0, 1:].tolist())]
    return max(finished, key=lambda f: f[0])[1]


def _length(src: np.ndarray, pad_id: int) -> int:
    """Real length of a padded source row (at least 1)."""
    real = np.nonzero(src[0] != pad_id)[0]
    return int(real[-1]) + 1 if len(real) else 1


def _settled(finished, best_live: float, t: int, max_len: int, k: int, alpha: float) -> bool:
    """Stop when k hypotheses have finished and no live beam can still beat the best of them."""
    if t == max_len:
        return True
    if len(finished) < k:
        return False
    # log-probabilities only fall as a beam grows; the most a live beam can still score:
    bound = best_live / length_penalty(max_len if alpha > 0 else t, alpha)
    return max(f[0] for f in finished) >= bound
