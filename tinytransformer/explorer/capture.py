"""What the neuron view needs and the attention maps do not keep: each head's query and key
vectors, computed from the input each attention module received.

    q_i = x_i W^Q + b^Q,   k_j = y_j W^K + b^K        (cut into H heads of D dims each)
    a_ij = softmax_j(q_i . k_j / sqrt(D))             (Attention(Q, K, V), §4.1)

The inputs are recorded while the model runs (`recording`), so the vectors belong to the very
forward pass whose weights the page shows. tests/test_explorer.py checks that softmax(q k^T /
sqrt(D)) from these vectors, under the mask, gives the model's own weights.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..nn import GroupedQueryAttention, MultiHeadAttention, apply_rotary_pos_emb
from ..tensor import Tensor, as_array


@contextlib.contextmanager
def recording(modules):
    """{module: the positional arguments of its latest call}, filled while the block runs.

    Modules here have no hooks, so each one gets a recording `forward` on the instance for the
    duration (the class's method is untouched) and loses it afterwards. Only the latest call
    is kept: run the forward pass whose vectors you want last.
    """
    calls = {}
    for m in modules:
        def forward(*args, _module=m, _forward=m.forward, **kwargs):
            calls[_module] = args
            return _forward(*args, **kwargs)
        object.__setattr__(m, "forward", forward)  # not a Parameter or Module: no registration
    try:
        yield calls
    finally:
        for m in modules:
            vars(m).pop("forward", None)


def query_key(module, args) -> tuple[np.ndarray, np.ndarray]:
    """One attention module's q [H, T_q, D] and k [H_kv, T_k, D] for its recorded call
    (batch row 0); H_kv = H except in grouped-query attention."""
    if isinstance(module, MultiHeadAttention):
        return _mha(module, as_array(args[0])[0], as_array(args[1])[0])
    if isinstance(module, GroupedQueryAttention):
        return _gqa(module, as_array(args[0])[0])
    raise TypeError(f"query_key: {type(module).__name__} is not an attention module the "
                    "explorer knows (MultiHeadAttention, GroupedQueryAttention)")


def _split(x: np.ndarray, H: int) -> np.ndarray:
    """[T, H*D] -> [H, T, D]"""
    T, C = x.shape
    return x.reshape(T, H, C // H).transpose(1, 0, 2)


def _mha(attn: MultiHeadAttention, x: np.ndarray, y: np.ndarray):
    """q = x W^Q + b^Q, k = y W^K + b^K; W^Q, W^K are rows 0..C-1 and C..2C-1 of in_proj.

    x [T_q, C] (the queries' input), y [T_k, C] (the keys') -> q [H, T_q, D], k [H, T_k, D]"""
    C, H = attn.d_model, attn.num_heads
    w = attn.in_proj.weight.data  # [3C, C]: W^Q, W^K, W^V stacked
    b = np.zeros(3 * C, w.dtype) if attn.in_proj.bias is None else attn.in_proj.bias.data
    q = x @ w[:C].T + b[:C]  # [T_q, C] @ [C, C]
    k = y @ w[C:2 * C].T + b[C:2 * C]  # [T_k, C] @ [C, C]
    return _split(q, H), _split(k, H)


def _gqa(attn: GroupedQueryAttention, x: np.ndarray):
    """q = RoPE(x W^Q), k = RoPE(x W^K): rotated, as the scores see them.

    x [T, C] -> q [H, T, D], k [H_kv, T, D]; query head h reads key head h // (H / H_kv)."""
    q = _split(x @ attn.q_proj.weight.data.T, attn.num_heads)  # [T, C] @ [C, H*D] -> [H, T, D]
    k = _split(x @ attn.k_proj.weight.data.T, attn.num_kv_heads)  # -> [H_kv, T, D]
    cos, sin = attn.rotary(x.shape[0], 0, x.dtype)  # [T, D] each
    q, k = apply_rotary_pos_emb(Tensor(q), Tensor(k), cos, sin)
    return q.data, k.data
