"""Counting the arithmetic: every matrix product the engine runs, forward and backward.

    with count_flops() as flops:
        loss = F.cross_entropy(model(src, tgt_in), tgt_out)
        loss.backward()
    flops.forward, flops.backward, flops.total   # in FLOPs

A multiply-add is 2 FLOPs, so [M, K] @ [K, N] costs 2 M K N. Only matrix products are counted:
the graph ops named "matmul" (`Tensor @`), "linear" (`nn.Linear`, x W^T + b) and "attention"
(the fused kernel: Q K^T and P V forward, four products backward). They are nearly all of a
Transformer's arithmetic; softmax, layer norm, dropout and the optimizer are elementwise and not
counted (`attention_scores` counts the entries of attention's score matrices, though: one exp
each in its softmax). The backward of a product costs one product per operand that needs a
gradient: dA = G B^T, dB = A^T G.

This is the package's one FLOP counter: `tinytransformer bench step` reports the reference step's
FLOPs from it (bench/step.py), and chapters 6, 10 and 11 count with it.

The counter sees every op as it is built (`Tensor.from_op`, which each op calls with its name
and inputs), so it counts the same whichever kernel backend or layer implementation computes
the numbers, with or without `no_grad`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from .tensor import Tensor

__all__ = ["FlopCount", "count_flops", "op_flops", "attention_flops"]


@dataclass
class FlopCount:
    """FLOPs counted so far: forward, backward, and attention's share of each."""

    forward: int = 0
    backward: int = 0
    attention_forward: int = 0  # the Q K^T and P V part of `forward`
    attention_backward: int = 0
    attention_scores: int = 0  # entries of the [B, H, T_q, T_k] score matrices, forward

    @property
    def total(self) -> int:
        return self.forward + self.backward


def attention_flops(q_shape: tuple, k_shape: tuple, v_dim: int) -> int:
    """Forward of softmax(Q K^T) V: 2 B H T_q T_k (D + D_v).  q [B, H, T_q, D], k [B, H, T_k, D]"""
    B, H, T_q, D = q_shape
    return 2 * B * H * T_q * k_shape[2] * (D + v_dim)


def op_flops(op: str, out_size: int, parents: tuple) -> tuple[int, int]:
    """(forward FLOPs, backward FLOPs) of one graph op; (0, 0) for ops that are not products."""
    if op in ("matmul", "linear"):
        a, b = parents[0], parents[1]  # matmul: a [..., K] @ b; linear: x [..., K], W [C_out, K]
        k = b.shape[-1] if op == "linear" else a.shape[-1]
        forward = 2 * out_size * k
        return forward, forward * sum(bool(t.requires_grad) for t in (a, b))
    if op == "attention":
        q, k, v = parents
        forward = attention_flops(q.shape, k.shape, v.shape[-1])
        return forward, 2 * forward  # dV = P^T G, dP = G V^T, dQ = dS K, dK = dS^T Q
    return 0, 0


@contextlib.contextmanager
def count_flops():
    """Count the FLOPs of every matrix product built or back-propagated inside the `with` block."""
    counts = FlopCount()
    from_op = Tensor.__dict__["from_op"]  # the classmethod object, restored on exit

    def counted_from_op(cls, out, parents, backward, op):
        forward, back = op_flops(op, out.size, parents)
        counts.forward += forward
        if op == "attention":
            counts.attention_forward += forward
            B, H, T_q, _ = parents[0].shape  # q [B, H, T_q, D], k [B, H, T_k, D]
            counts.attention_scores += B * H * T_q * parents[1].shape[2]
        if back and backward is not None:
            backward = _counted(backward, back, op == "attention", counts)
        return from_op.__func__(cls, out, parents, backward, op)

    Tensor.from_op = classmethod(counted_from_op)
    try:
        yield counts
    finally:
        Tensor.from_op = from_op


def _counted(backward, flops: int, attention: bool, counts: FlopCount):
    """`backward`, adding `flops` to counts.backward each time it runs."""
    def counted(g):
        counts.backward += flops
        if attention:
            counts.attention_backward += flops
        return backward(g)

    return counted
