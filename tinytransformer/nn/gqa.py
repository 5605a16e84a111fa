"""Grouped-query attention (Ainslie et al., 2023), with RoPE and a key/value cache: LLaMA's.

    head_h = Attention(RoPE(x W_h^Q), RoPE(x W_{h // G}^K), x W_{h // G}^V),   G = H / H_kv

H query heads share H_kv key/value heads, G = H / H_kv queries per group (SmolLM2: 9 and 3,
G = 3). H_kv = H is ordinary multi-head attention, H_kv = 1 multi-query attention. The saving
is the cache: it holds H_kv heads of keys and values, not H.

Query head h uses key/value head h // G (as transformers' `repeat_kv`). Instead of copying each
key/value head G times, the G query heads of a group are stacked along the query axis,

    q [B, H, T_q, D] -> [B, H_kv, G * T_q, D],   k, v [B, H_kv, T_k, D]

so that one `scaled_dot_product_attention` call (one batched matmul per product) serves them
all; the mask is repeated G times along the query axis to match, and the weights are unfolded
back to [B, H, T_q, T_k]. Masks are boolean, True = may attend (see `nn.attention`).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops import concatenate
from ..tensor import Tensor, as_array, is_grad_enabled
from .attention import KVCache, causal_mask
from .layers import Linear
from .module import Module
from .rotary import RotaryEmbedding, apply_rotary_pos_emb


class GroupedQueryAttention(Module):
    """Causal self-attention with H query heads, H_kv key/value heads, RoPE, and no biases.

    q_proj [H*D, C], k_proj and v_proj [H_kv*D, C], o_proj [C, H*D], D = head_dim (default
    C / H): transformers' `LlamaAttention`, with its parameter names.
    """

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int | None = None,
                 head_dim: int | None = None, rope_theta: float = 10000.0, rng=None):
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_heads % num_kv_heads:
            raise ValueError(f"GroupedQueryAttention: num_heads={num_heads} is not a multiple "
                             f"of num_kv_heads={num_kv_heads} (each key/value head serves "
                             "num_heads / num_kv_heads query heads)")
        if head_dim is None and d_model % num_heads:
            raise ValueError(f"GroupedQueryAttention: d_model={d_model} is not divisible by "
                             f"num_heads={num_heads}; pass head_dim")
        self.d_model, self.num_heads, self.num_kv_heads = d_model, num_heads, num_kv_heads
        self.head_dim = head_dim or d_model // num_heads
        H, H_kv, D = num_heads, num_kv_heads, self.head_dim
        self.q_proj = Linear(d_model, H * D, bias=False, rng=rng)
        self.k_proj = Linear(d_model, H_kv * D, bias=False, rng=rng)
        self.v_proj = Linear(d_model, H_kv * D, bias=False, rng=rng)
        self.o_proj = Linear(H * D, d_model, bias=False, rng=rng)
        self.rotary = RotaryEmbedding(D, rope_theta)

    def _heads(self, x: Tensor, proj: Linear, n: int) -> Tensor:
        """x W^T split into n heads.  [B, T, C] -> [B, T, n*D] -> [B, n, T, D]"""
        B, T, _ = x.shape
        return proj(x).reshape(B, T, n, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x: Tensor, cache: KVCache | None = None, need_weights: bool = False,
                attn_mask=None):
        """x [B, T, C] -> out [B, T, C] (, weights [B, H, T, T_k] as a NumPy array)

        Causal: new position t sees the cached positions and the new ones up to t. With a
        `cache`, the keys and values (after RoPE) are appended to this module's entry, and
        the new positions start after the cached ones. `attn_mask` (bool, True = may attend,
        broadcasting to [B, H, T, T_k]) is combined with the causal mask, e.g. for padding.
        """
        B, T, C = x.shape
        if C != self.d_model:
            raise ValueError(f"GroupedQueryAttention(d_model={self.d_model}): input has shape "
                             f"{x.shape}, expected [B, T, {self.d_model}]")
        H, H_kv, D = self.num_heads, self.num_kv_heads, self.head_dim
        past = None if cache is None else cache.entries.get(self)
        offset = 0 if past is None else past[0].shape[2]  # positions already cached
        cos, sin = self.rotary(T, offset, x.dtype)  # [T, D] each
        q, k = apply_rotary_pos_emb(self._heads(x, self.q_proj, H),  # [B, H, T, D]
                                    self._heads(x, self.k_proj, H_kv), cos, sin)  # [B, H_kv, T, D]
        v = self._heads(x, self.v_proj, H_kv)  # [B, H_kv, T, D]
        if cache is not None:
            k, v = _append(past, k, v)  # [B, H_kv, T_k, D], T_k = offset + T
            cache.entries[self] = (k, v)
        out, weights = self._attend(q, k, v, attn_mask)
        out = out.permute(0, 2, 1, 3).reshape(B, T, H * D)  # [B, H, T, D] -> [B, T, H*D]
        out = self.o_proj(out)  # [B, T, C]
        return (out, weights) if need_weights else out

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, attn_mask):
        """Each group's G query heads stacked along the query axis, attending to its k, v.

        q [B, H, T, D], k, v [B, H_kv, T_k, D] -> [B, H, T, D], weights [B, H, T, T_k]"""
        B, H, T, D = q.shape
        H_kv, T_k = k.shape[1], k.shape[2]
        G = H // H_kv
        mask = _group_mask(causal_mask(T, T_k), attn_mask, H, H_kv)  # [B or 1, H_kv, G*T, T_k]
        q = q.reshape(B, H_kv, G * T, D)  # heads h = j G + g, j the key/value head
        out, p = F.scaled_dot_product_attention(q, k, v, mask)  # [B, H_kv, G*T, D]
        return out.reshape(B, H, T, D), None if p is None else p.reshape(B, H, T, T_k)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, num_heads={self.num_heads}, "
                f"num_kv_heads={self.num_kv_heads}, head_dim={self.head_dim}")


def _group_mask(causal: np.ndarray, attn_mask, H: int, H_kv: int) -> np.ndarray:
    """causal [T, T_k] & attn_mask, folded as the queries: -> bool [B or 1, H_kv, G*T, T_k]"""
    mask = causal
    if attn_mask is not None:
        extra = as_array(attn_mask)
        try:
            mask = causal & extra
        except ValueError as e:
            raise ValueError(f"GroupedQueryAttention: attn_mask {extra.shape} does not "
                             f"broadcast to the scores' [B, H, T, T_k], here T, T_k = "
                             f"{causal.shape}") from e
    T, T_k = causal.shape
    mask = np.broadcast_to(mask, np.broadcast_shapes(mask.shape, (1, H, T, T_k)))
    return mask.reshape(mask.shape[0], H_kv, H // H_kv * T, T_k)  # [B, H, T, T_k] -> folded


def _append(past, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """The cached k, v [B, H_kv, t, D] followed by the new ones [B, H_kv, T, D].

    With gradients on, `concatenate` keeps the graph. Without (decoding), each entry is a view
    of a buffer with spare room along the time axis that doubles when full, so appending a
    token copies only that token's keys and values (amortised), not the whole cache. So an
    entry is extended once: to branch a cache, copy its arrays (`KVCache.reorder` does).
    """
    if past is None:
        return k, v
    if is_grad_enabled() and (k.requires_grad or past[0].requires_grad):
        return concatenate([past[0], k], axis=2), concatenate([past[1], v], axis=2)
    return _grow(past[0], k), _grow(past[1], v)


def _grow(past: Tensor, new: Tensor) -> Tensor:
    """past ++ new along axis 2, written into past's buffer when it has room (see _append)."""
    t, n = past.shape[2], new.shape[2]
    buf = past.data.base
    fits = (buf is not None and buf.ndim == 4 and buf.shape[2] >= t + n
            and buf.dtype == new.dtype and _is_prefix(past.data, buf))
    if not fits:
        B, H, _, D = past.shape
        buf = np.empty((B, H, max(2 * (t + n), 64), D), dtype=new.dtype)  # [B, H_kv, room, D]
        buf[:, :, :t] = past.data
    buf[:, :, t:t + n] = new.data
    return Tensor(buf[:, :, :t + n])


def _is_prefix(a: np.ndarray, buf: np.ndarray) -> bool:
    """Is `a` exactly buf[:, :, :a.shape[2]] (same memory, same strides)?"""
    view = buf[:, :, :a.shape[2]]
    return (a.shape == view.shape and a.strides == view.strides
            and a.__array_interface__["data"][0] == view.__array_interface__["data"][0])
