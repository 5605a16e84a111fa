"""The same LLaMA model as `Llama`, for inference only: plain arrays, no autograd, fused products,
and weights either in float32 (BLAS) or kept in GGUF's 4-bit blocks (Numba kernels).

    block:  h = x + W_o GQA(RoPE(RMSNorm(x) W_qkv^T)),   out = h + W_down (SiLU(g) * u)
            [g, u] = RMSNorm(h) W_gu^T

It computes what `Llama` computes (tests/test_llama_fast.py: equal in float64), and is what the
`chat` and `generate` commands run. Where the time went in `Llama` (one decoded token of
SmolLM2, float32): 60 % in the 211 matrix-vector products, the rest in the autograd graph and
Python around them. So here:
- no graph: functions on NumPy arrays;
- fused products: W_q, W_k, W_v stacked into one W_qkv [(H + 2 H_kv) D, C], W_gate and W_up
  into one W_gu [2 d_ff, C]: 4 products a layer instead of 7;
- the key/value cache as arrays with room to grow, written in place (`KVCache.offset` is the
  only truth: an interrupted forward leaves it where it was, and its half-written entries are
  overwritten next time);
- the LM head only where asked (`last_only`: the next token needs the last position only);
- the weights: `weights="q4"` keeps GGUF's Q4_1 / Q8_0 blocks (112 MB) and multiplies them with
  `kernels.quant` (decoding reads 5 bits a weight instead of 32: see `tinytransformer bench llm`
  for the measured speeds); "float32" de-quantises once (538 MB) and uses BLAS; "float64" is
  for checks.
Prompts longer than `CHUNK` tokens are run in chunks, so attention's [T, T_k] scores stay small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kernels
from ..kernels.quant import QuantizedMatrix, dequantize, quantized_linear
from ..nn import KVCache, RotaryEmbedding, unpermute_qk
from ..ops import expit
from .config import token_ids
from .llama import Llama, LlamaConfig, gguf_config, gguf_names

CHUNK = 512  # prompt positions per forward: scores [B, H, 512, T_k] at most
WEIGHTS = ("q4", "float32", "float64")


def linear(x: np.ndarray, w) -> np.ndarray:
    """y = x W^T, W an array [R, K] or GGUF blocks.  x [..., K] -> [..., R]"""
    if isinstance(w, QuantizedMatrix):
        return quantized_linear(x, w)
    return x @ w.T  # [..., K] @ [K, R]


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight, over the last axis.  [..., C] -> [..., C]"""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """RoPE(x) = x cos + rotate_half(x) sin, rotate_half([x_1, x_2]) = [-x_2, x_1].

    x [B, n, T, D], cos and sin [T, D] -> [B, n, T, D]"""
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, t0: int) -> np.ndarray:
    """softmax(q k^T / sqrt(D), causal) v, each group of G = H / H_kv query heads on its k, v.

    q [B, H, T, D] at positions t0 .. t0 + T - 1, k, v [B, H_kv, T_k, D] (T_k = t0 + T)
    -> [B, H, T, D]"""
    B, H, T, D = q.shape
    H_kv, T_k = k.shape[1], k.shape[2]
    G = H // H_kv
    q = q.reshape(B, H_kv, G * T, D)  # heads h = j G + g share k, v head j (as nn.gqa)
    scores = q @ k.swapaxes(-1, -2)  # [B, H_kv, G T, T_k]
    mask = None
    if T > 1:  # query t (position t0 + t) sees keys 0 .. t0 + t
        mask = np.arange(T_k)[None, :] <= t0 + np.arange(T)[:, None]  # [T, T_k]
        mask = np.tile(mask, (G, 1))  # [G T, T_k], one copy per query head of the group
        mask = np.broadcast_to(mask, scores.shape).reshape(-1, T_k)
    p = kernels.softmax_forward(scores.reshape(-1, T_k), D ** -0.5, mask)  # [B H_kv G T, T_k]
    return (p.reshape(scores.shape) @ v).reshape(B, H, T, D)  # [B, H_kv, G T, D] -> heads


@dataclass(eq=False)  # compared and hashed by identity: a key of KVCache.entries
class FastBlock:
    """One layer's weights: norms [C], W_qkv [(H + 2 H_kv) D, C], W_o [C, H D],
    W_gu [2 d_ff, C], W_down [C, d_ff] (arrays or `QuantizedMatrix`)."""

    attn_norm: np.ndarray
    qkv: object
    o: object
    mlp_norm: np.ndarray
    gate_up: object
    down: object


class FastLlama:
    """Inference-only `Llama`: model(tokens [B, T], cache=KVCache(), last_only=False) ->
    logits [B, T, V] as a NumPy array ([B, 1, V] with last_only)."""

    def __init__(self, config: LlamaConfig, embed, blocks: list[FastBlock], norm: np.ndarray):
        self.config, self.embed, self.blocks, self.norm = config, embed, blocks, norm
        c = config
        self.rotary = RotaryEmbedding(c.head_dim, c.rope_theta)
        self.dtype = np.dtype(np.float32 if isinstance(embed, QuantizedMatrix) else embed.dtype)

    def __call__(self, tokens, cache: KVCache | None = None, last_only: bool = False):
        tokens = token_ids(tokens)
        T, t0 = tokens.shape[1], 0 if cache is None else cache.offset
        if t0 + T > self.config.max_len:
            raise ValueError(f"FastLlama: {t0} cached + {T} new positions exceed the model's "
                             f"context of {self.config.max_len} tokens")
        if T > CHUNK:
            return self._chunked(tokens, cache, last_only)
        x = self._embed(tokens)  # [B, T, C]
        cos, sin = (a.data for a in self.rotary(T, t0, self.dtype))  # [T, D] each
        for block in self.blocks:
            x = self._block(block, x, cos, sin, cache, t0)
        if cache is not None:
            cache.offset = t0 + T  # only now: an interrupted forward leaves the cache as it was
        if last_only:
            x = x[:, -1:]
        return linear(rms_norm(x, self.norm, self.config.rms_eps), self.embed)  # [B, T, V]

    def _chunked(self, tokens, cache, last_only):
        cache = KVCache() if cache is None else cache
        out = [self(tokens[:, i:i + CHUNK], cache, last_only)
               for i in range(0, tokens.shape[1], CHUNK)]
        return out[-1] if last_only else np.concatenate(out, axis=1)

    def _embed(self, tokens: np.ndarray) -> np.ndarray:
        """E[tokens]: [B, T] -> [B, T, C]"""
        if isinstance(self.embed, QuantizedMatrix):
            return self.embed.rows(tokens)
        return self.embed[tokens]

    def _block(self, w: FastBlock, x, cos, sin, cache, t0):
        """x [B, T, C] -> [B, T, C]: attention, then the SwiGLU feed-forward, each residual."""
        c = self.config
        B, T, _ = x.shape
        H, H_kv, D = c.num_heads, c.num_kv_heads, c.head_dim
        qkv = linear(rms_norm(x, w.attn_norm, c.rms_eps), w.qkv)  # [B, T, (H + 2 H_kv) D]
        qkv = qkv.reshape(B, T, H + 2 * H_kv, D).transpose(0, 2, 1, 3)  # [B, H + 2 H_kv, T, D]
        q, k, v = qkv[:, :H], qkv[:, H:H + H_kv], qkv[:, H + H_kv:]
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k, v = _cached(cache, w, k, v, t0)  # [B, H_kv, t0 + T, D]
        a = attend(q, k, v, t0).transpose(0, 2, 1, 3).reshape(B, T, H * D)  # [B, T, H D]
        x = x + linear(a, w.o)
        gu = linear(rms_norm(x, w.mlp_norm, c.rms_eps), w.gate_up)  # [B, T, 2 d_ff]
        g, u = gu[..., :c.d_ff], gu[..., c.d_ff:]
        return x + linear(g * expit(g) * u, w.down)  # SiLU(g) = g sigmoid(g)

    @property
    def nbytes(self) -> int:
        """Bytes of weights held."""
        arrays = [self.embed, self.norm] + [getattr(b, f) for b in self.blocks
                                            for f in FastBlock.__dataclass_fields__]
        return sum(a.nbytes for a in arrays)

    def __repr__(self) -> str:
        kind = "GGUF blocks" if isinstance(self.embed, QuantizedMatrix) else self.dtype.name
        return (f"FastLlama({self.config.num_layers} layers, d_model {self.config.d_model}, "
                f"weights in {kind}: {self.nbytes / 1e6:.0f} MB)")

    @classmethod
    def from_llama(cls, model: Llama) -> FastLlama:
        """The same weights as `model` (copied: the products are fused)."""
        p = {k: v.data for k, v in model.named_parameters()}
        blocks = []
        for n in range(model.config.num_layers):
            a, m = f"layers.{n}.self_attn.", f"layers.{n}.mlp."
            blocks.append(FastBlock(
                p[f"layers.{n}.input_layernorm.weight"],
                np.concatenate([p[a + f"{s}_proj.weight"] for s in "qkv"]), p[a + "o_proj.weight"],
                p[f"layers.{n}.post_attention_layernorm.weight"],
                np.concatenate([p[m + "gate_proj.weight"], p[m + "up_proj.weight"]]),
                p[m + "down_proj.weight"]))
        if not model.config.tie_embeddings:
            raise ValueError("FastLlama: only tied embeddings (lm_head = E), as in SmolLM2")
        return cls(model.config, p["embed_tokens.weight"], blocks, p["norm.weight"])

    @classmethod
    def from_gguf(cls, source, weights: str = "q4") -> FastLlama:
        """From a GGUF file (a path or an open GGUFFile): weights "q4" (the file's blocks),
        "float32" or "float64" (de-quantised once)."""
        from ..pretrained.gguf import GGUFFile

        if weights not in WEIGHTS:
            raise ValueError(f"FastLlama.from_gguf: weights must be one of {WEIGHTS}, "
                             f"got {weights!r}")
        f = source if isinstance(source, GGUFFile) else GGUFFile(source)
        try:
            dtype = "float64" if weights == "float64" else "float32"
            c = gguf_config(f.metadata, f.tensors, dtype)
            load = _GGUFLoader(f, c, weights)
            blocks = [load.block(n) for n in range(c.num_layers)]
            model = cls(c, load.matrix("token_embd.weight"), blocks, load.vector("output_norm"))
        finally:
            if f is not source:
                f.close()
        return model


class _GGUFLoader:
    """Reads one GGUF tensor at a time, as blocks (q4) or de-quantised arrays."""

    def __init__(self, f, c: LlamaConfig, weights: str):
        if c.tie_embeddings is False or set(f.tensors) != set(gguf_names(c)):
            raise ValueError(f"FastLlama.from_gguf: {f.path.name} does not hold exactly the "
                             "tensors of a tied-embedding Llama (Llama.from_gguf says which)")
        self.f, self.c, self.weights = f, c, weights
        self.dtype = np.float64 if weights == "float64" else np.float32

    def vector(self, name: str) -> np.ndarray:
        return self.f.tensor(f"{name}.weight").astype(self.dtype)

    def matrix(self, name: str, rows=None):
        """A weight [R, K], its rows reordered by `rows` (W_q, W_k: GGUF's RoPE layout)."""
        info = self.f.tensors[name]
        if info.type_name not in ("Q4_1", "Q8_0"):  # e.g. F32: no blocks to keep
            w = self.f.tensor(name).astype(self.dtype)
            return w if rows is None else w[rows]
        w = QuantizedMatrix.from_blocks(self.f.blocks(name), info.type_name)
        w = w if rows is None else w.take_rows(rows)
        # float64: the float32 weights llama.cpp de-quantises to (as Llama.from_gguf), widened
        return w if self.weights == "q4" else dequantize(w).astype(self.dtype, copy=False)

    def block(self, n: int) -> FastBlock:
        c, name = self.c, lambda key: f"blk.{n}.{key}.weight"
        H, H_kv, D = c.num_heads, c.num_kv_heads, c.head_dim
        q = self.matrix(name("attn_q"), unpermute_qk(np.arange(H * D), H))
        k = self.matrix(name("attn_k"), unpermute_qk(np.arange(H_kv * D), H_kv))
        v = self.matrix(name("attn_v"))
        gate, up = self.matrix(name("ffn_gate")), self.matrix(name("ffn_up"))
        return FastBlock(self.vector(f"blk.{n}.attn_norm"), _stack([q, k, v]),
                         self.matrix(name("attn_output")), self.vector(f"blk.{n}.ffn_norm"),
                         _stack([gate, up]), self.matrix(name("ffn_down")))


def _stack(ws: list):
    return QuantizedMatrix.stack(ws) if isinstance(ws[0], QuantizedMatrix) else np.concatenate(ws)


def _cached(cache: KVCache | None, block: FastBlock, k, v, t0: int):
    """Write k, v [B, H_kv, T, D] at positions t0 .. t0 + T - 1 of the block's cache arrays
    [B, H_kv, room, D] (doubling the room when full) -> views of positions 0 .. t0 + T - 1."""
    if cache is None:
        return k, v
    T = k.shape[2]
    bufs = cache.entries.get(block)
    if bufs is None or bufs[0].shape[2] < t0 + T:
        B, H_kv, _, D = k.shape
        room = max(2 * (t0 + T), 256)
        new = tuple(np.empty((B, H_kv, room, D), k.dtype) for _ in range(2))
        if bufs is not None:
            for old, fresh in zip(bufs, new):
                fresh[:, :, :t0] = old[:, :, :t0]
        cache.entries[block] = bufs = new
    bufs[0][:, :, t0:t0 + T] = k
    bufs[1][:, :, t0:t0 + T] = v
    return bufs[0][:, :, :t0 + T], bufs[1][:, :, :t0 + T]
