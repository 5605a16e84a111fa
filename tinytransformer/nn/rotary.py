"""Rotary position embeddings, RoPE (Su et al., 2021, "RoFormer"), in Hugging Face's layout.

Instead of adding a position vector to the token embedding, RoPE *rotates* each query and key
by an angle proportional to its position m. A head's D dims form D/2 pairs; pair i turns at
frequency theta_i = base^(-2i/D) (base 10000 in RoFormer and LLaMA 2, 100000 in SmolLM2):

    [q'_i      ]   [cos m theta_i   -sin m theta_i] [q_i      ]
    [q'_{i+D/2}] = [sin m theta_i    cos m theta_i] [q_{i+D/2}]       i = 0 .. D/2 - 1

Two rotations compose by adding angles, so a query at m and a key at n score
q'.k' = q . R((n - m) theta) k: attention sees only the *relative* position n - m. Written for
whole vectors (transformers' `apply_rotary_pos_emb`):

    RoPE(x, m) = x * cos(m theta) + rotate_half(x) * sin(m theta),
    rotate_half([x_1, x_2]) = [-x_2, x_1],   cos, sin [D] = the D/2 angles, twice

With a KV cache, the new tokens' positions start at `offset`, the number already cached; the
cached keys were rotated at their own positions when they were computed.

**Layouts, and GGUF.** Which dims form a pair is a convention. Hugging Face pairs dim i with
dim i + D/2 (the "rotate-half" layout above). Meta's original LLaMA code, and llama.cpp, pair
*adjacent* dims (2i, 2i + 1) ("interleaved"). The two give the same attention if the rows of
W_q and W_k are permuted to match, within each head: llama.cpp's converter
(convert_hf_to_gguf.py) does exactly that when it writes a GGUF file, so GGUF's
attn_q / attn_k weights are in the interleaved order,

    GGUF row 2i = HF row i,   GGUF row 2i + 1 = HF row i + D/2     (in each head of D rows)

`unpermute_qk` maps GGUF's rows back to the rotate-half layout used here (`permute_qk` is
llama.cpp's direction). W_k uses the number of *key/value* heads. W_v, W_o and the rest are
not permuted: only the two matrices whose outputs RoPE rotates.
"""

from __future__ import annotations

import numpy as np

from ..ops import concatenate
from ..tensor import Tensor
from .module import Module


class RotaryEmbedding(Module):
    """The angles m theta_i for positions offset .. offset + T - 1, as cos and sin [T, D].

    theta_i = base^(-2i/D), i = 0 .. D/2 - 1. No parameters (transformers' LlamaRotaryEmbedding).
    Angles are computed in float64 and rounded once to the model's dtype.
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RotaryEmbedding: head_dim={head_dim} must be even "
                             "(RoPE rotates pairs of dims)")
        self.head_dim, self.base = head_dim, base
        self.inv_freq = base ** -(np.arange(0, head_dim, 2) / head_dim)  # theta_i [D/2]

    def forward(self, T: int, offset: int = 0, dtype=np.float32) -> tuple[Tensor, Tensor]:
        """-> cos, sin [T, D], each the D/2 angles m theta_i twice (rotate-half layout)."""
        m = np.arange(offset, offset + T, dtype=np.float64)  # positions [T]
        angles = m[:, None] * self.inv_freq[None, :]  # [T, 1] * [1, D/2] -> [T, D/2]
        angles = np.concatenate([angles, angles], axis=-1)  # [T, D]
        return Tensor(np.cos(angles).astype(dtype)), Tensor(np.sin(angles).astype(dtype))

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base:g}"


def rotate_half(x: Tensor) -> Tensor:
    """rotate_half([x_1, x_2]) = [-x_2, x_1], halves of the last axis.  [..., D] -> [..., D]"""
    half = x.shape[-1] // 2
    return concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rotary_pos_emb(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor):
    """RoPE(x) = x * cos + rotate_half(x) * sin, for the queries and the keys.

    q [B, H, T, D], k [B, H_kv, T, D], cos and sin [T, D] -> q', k' (same shapes)
    """
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def unpermute_qk(w: np.ndarray, num_heads: int) -> np.ndarray:
    """GGUF's interleaved-pairs rows -> the rotate-half rows RoPE here expects.

    w [num_heads * D, ...] (a W_q or W_k, or its bias) -> the same shape: in each head, row i
    becomes GGUF's row 2i and row i + D/2 GGUF's row 2i + 1. For W_k pass num_kv_heads.
    """
    D = _head_dim(w, num_heads)
    w = w.reshape(num_heads, D // 2, 2, *w.shape[1:])  # [H, D/2 pairs, 2, ...]
    return w.swapaxes(1, 2).reshape(num_heads * D, *w.shape[3:])  # [H, 2, D/2, ...] -> rows


def permute_qk(w: np.ndarray, num_heads: int) -> np.ndarray:
    """Rotate-half rows -> GGUF's interleaved pairs (what llama.cpp's converter writes)."""
    D = _head_dim(w, num_heads)
    w = w.reshape(num_heads, 2, D // 2, *w.shape[1:])  # [H, 2 halves, D/2, ...]
    return w.swapaxes(1, 2).reshape(num_heads * D, *w.shape[3:])  # [H, D/2, 2, ...] -> rows


def _head_dim(w: np.ndarray, num_heads: int) -> int:
    rows = np.shape(w)[0]
    if rows % num_heads or (rows // num_heads) % 2:
        raise ValueError(f"(un)permute_qk: {rows} rows do not split into {num_heads} heads of "
                         "an even number of dims; for W_k pass the number of key/value heads")
    return rows // num_heads
