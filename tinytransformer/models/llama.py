"""A LLaMA-style decoder-only model (Touvron et al., 2023), the architecture of SmolLM2.

    tokens [B, T] -> E[tokens] -> N blocks -> RMSNorm -> logits [B, T, V]
    block:  h = x + GQA(RMSNorm(x)),   out = h + SwiGLU(RMSNorm(h))      (RoPE inside GQA)

What changed since the 2017 decoder (`models/lm.py`): RMSNorm instead of LayerNorm, always
before each sub-layer (pre-norm); rotary position embeddings applied to q and k instead of
position vectors added to the input; grouped-query attention (fewer key/value heads, a smaller
cache); the SwiGLU feed-forward; no biases, no dropout, no sqrt(d_model) embedding scale.

`Llama` is transformers' `LlamaForCausalLM`: its parameters carry the same names without the
"model." prefix (`embed_tokens`, `layers.N.input_layernorm`, `layers.N.self_attn.q_proj`, ...,
`norm`, `lm_head`); `to_hf_state_dict` / `from_hf_state_dict` convert. `Llama.from_gguf` reads
a llama.cpp GGUF file (SmolLM2-135M-Instruct: `tinytransformer fetch smollm2`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..nn import (
    Embedding,
    GroupedQueryAttention,
    KVCache,
    Linear,
    Module,
    ModuleList,
    RMSNorm,
    SwiGLU,
    unpermute_qk,
)
from ..tensor import DEFAULT_DTYPE, Tensor
from .config import DTYPES, ConfigMixin, token_ids


@dataclass
class LlamaConfig(ConfigMixin):
    """Everything needed to rebuild a `Llama`; the defaults are SmolLM2-135M's shape.

    transformers' LlamaConfig names: hidden_size = d_model, num_hidden_layers = num_layers,
    num_attention_heads = num_heads, num_key_value_heads = num_kv_heads, intermediate_size =
    d_ff, rms_norm_eps = rms_eps, max_position_embeddings = max_len, tie_word_embeddings =
    tie_embeddings, rope_theta = rope_theta.
    """

    vocab_size: int = 49152
    d_model: int = 576
    num_layers: int = 30
    num_heads: int = 9
    num_kv_heads: int = 3
    d_ff: int = 1536
    rope_theta: float = 100000.0
    rms_eps: float = 1e-5
    max_len: int = 8192  # the context it was trained for; `generate` stops there
    tie_embeddings: bool = True  # lm_head = the token embedding matrix
    seed: int = 0
    dtype: str = "float32"  # or "float64", for checks

    def __post_init__(self):
        name = type(self).__name__
        if self.d_model % self.num_heads or (self.d_model // self.num_heads) % 2:
            raise ValueError(f"{name}: d_model={self.d_model} must split into num_heads="
                             f"{self.num_heads} heads of an even size (RoPE rotates pairs)")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"{name}: num_heads={self.num_heads} is not a multiple of "
                             f"num_kv_heads={self.num_kv_heads}")
        if self.dtype not in DTYPES:
            raise ValueError(f"{name}: dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.rms_eps <= 0:
            raise ValueError(f"{name}: rms_eps must be > 0, got {self.rms_eps}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads


class LlamaBlock(Module):
    """h = x + GQA(RMSNorm(x)),  out = h + SwiGLU(RMSNorm(h))  (transformers' LlamaDecoderLayer)"""

    def __init__(self, c: LlamaConfig, rng=None):
        super().__init__()
        self.input_layernorm = RMSNorm(c.d_model, c.rms_eps)
        self.self_attn = GroupedQueryAttention(c.d_model, c.num_heads, c.num_kv_heads,
                                               rope_theta=c.rope_theta, rng=rng)
        self.post_attention_layernorm = RMSNorm(c.d_model, c.rms_eps)
        self.mlp = SwiGLU(c.d_model, c.d_ff, rng=rng)

    def forward(self, x: Tensor, cache: KVCache | None = None, need_weights: bool = False):
        """x [B, T, C] -> [B, T, C] (, attention weights [B, H, T, T_k])"""
        a, weights = self.self_attn(self.input_layernorm(x), cache, need_weights=True)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return (x, weights) if need_weights else x


class Llama(Module):
    """LLaMA decoder-only model: forward(tokens [B, T]) -> logits [B, T, V] for the next token."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        c = self.config = config
        rng = np.random.default_rng(c.seed)  # the initial weights (there is no dropout)
        self.embed_tokens = Embedding(c.vocab_size, c.d_model, std=0.02, rng=rng)
        self.layers = ModuleList(LlamaBlock(c, rng) for _ in range(c.num_layers))
        self.norm = RMSNorm(c.d_model, c.rms_eps)
        self.lm_head = None if c.tie_embeddings else Linear(c.d_model, c.vocab_size, False, rng)
        if np.dtype(c.dtype) != DEFAULT_DTYPE:  # the layers are built in float32
            self.to(c.dtype)

    def forward(self, tokens, cache: KVCache | None = None, need_weights: bool = False):
        """tokens [B, T] -> logits [B, T, V] (, a list of per-layer weights [B, H, T, T_k])

        With a `cache`, `tokens` holds only the new positions: the earlier positions' keys and
        values come from the cache, RoPE continues from their count, and the cache advances by
        T (the calling convention of `LanguageModel`, so `generate()` drives both).
        """
        tokens = token_ids(tokens)
        x = self.embed_tokens(tokens)  # [B, T, C]
        maps = []
        for layer in self.layers:
            x, weights = layer(x, cache, need_weights=True)
            maps.append(weights)
        if cache is not None:
            cache.offset += tokens.shape[1]
        logits = self.logits(self.norm(x))
        return (logits, maps) if need_weights else logits

    def logits(self, x: Tensor) -> Tensor:
        """x [B, T, C] -> [B, T, V]: the LM head, or x E^T with tied embeddings."""
        if self.lm_head is not None:
            return self.lm_head(x)
        return F.linear(x, self.embed_tokens.weight)  # [B, T, C] @ [C, V]

    def extra_repr(self) -> str:
        return f"{self.num_parameters():,} parameters"

    # -- other formats ---------------------------------------------------------------------
    def to_hf_state_dict(self) -> dict[str, np.ndarray]:
        """Parameters under transformers' LlamaForCausalLM names (lm_head.weight always)."""
        state = {("" if k.startswith("lm_head.") else "model.") + k: v
                 for k, v in self.state_dict().items()}
        if self.lm_head is None:
            state["lm_head.weight"] = state["model.embed_tokens.weight"]
        return state

    @classmethod
    def from_hf_state_dict(cls, state: dict, config: LlamaConfig) -> Llama:
        """A model with transformers' LlamaForCausalLM weights (NumPy arrays or torch tensors)."""
        ours = {k.removeprefix("model."): _array(v) for k, v in state.items()
                if not (config.tie_embeddings and k == "lm_head.weight")}
        model = cls(config)
        model.load_state_dict(ours)
        return model

    @classmethod
    def from_gguf(cls, source, dtype: str = "float32") -> Llama:
        """A model built from a llama.cpp GGUF file (a path, or an open `GGUFFile`).

        The config comes from the metadata, the weights are de-quantised to `dtype`, and
        W_q, W_k are un-permuted from GGUF's interleaved RoPE layout (`nn.rotary`).
        """
        from ..pretrained.gguf import GGUFFile  # lazily: the model does not need the reader

        f = source if isinstance(source, GGUFFile) else GGUFFile(source)
        try:
            model = cls(gguf_config(f.metadata, f.tensors, dtype))
            _load_gguf(model, f)
        finally:
            if f is not source:
                f.close()
        return model


# GGUF tensor names (llama.cpp's) -> ours: blk.N.<key>.weight -> layers.N.<value>.weight
GGUF_BLOCK_NAMES = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}


def gguf_names(c: LlamaConfig) -> dict[str, str]:
    """{GGUF tensor name: our parameter name} for a model of config `c`."""
    names = {"token_embd.weight": "embed_tokens.weight", "output_norm.weight": "norm.weight"}
    if not c.tie_embeddings:
        names["output.weight"] = "lm_head.weight"
    for n in range(c.num_layers):
        names.update({f"blk.{n}.{key}.weight": f"layers.{n}.{ours}.weight"
                      for key, ours in GGUF_BLOCK_NAMES.items()})
    return names


def gguf_config(metadata: dict, tensors: dict, dtype: str = "float32") -> LlamaConfig:
    """A LlamaConfig from a GGUF file's metadata (keys `llama.*`) and tensor table."""
    arch = metadata.get("general.architecture")
    if arch != "llama":
        raise ValueError(f"Llama.from_gguf: the file's general.architecture is {arch!r}; "
                         "this model reads 'llama' files (SmolLM2, TinyLlama, LLaMA 2/3, ...)")

    def get(key, default=None):
        if f"llama.{key}" not in metadata and default is None:
            raise KeyError(f"Llama.from_gguf: the GGUF metadata has no 'llama.{key}'")
        return metadata.get(f"llama.{key}", default)

    c = LlamaConfig(
        vocab_size=tensors["token_embd.weight"].shape[0], d_model=get("embedding_length"),
        num_layers=get("block_count"), num_heads=get("attention.head_count"),
        num_kv_heads=get("attention.head_count_kv", get("attention.head_count")),
        d_ff=get("feed_forward_length"), rope_theta=float(get("rope.freq_base", 10000.0)),
        rms_eps=float(get("attention.layer_norm_rms_epsilon")),
        max_len=get("context_length", 2048), tie_embeddings="output.weight" not in tensors,
        dtype=dtype)
    if get("rope.dimension_count", c.head_dim) != c.head_dim:
        raise ValueError(f"Llama.from_gguf: RoPE over {get('rope.dimension_count')} of the "
                         f"{c.head_dim} dims of a head (partial rotary) is not supported")
    return c


def _load_gguf(model: Llama, f) -> None:
    """Each parameter replaced by its GGUF tensor, one at a time (one extra tensor in memory)."""
    names, params = gguf_names(model.config), dict(model.named_parameters())
    unknown = sorted(set(f.tensors) - set(names))
    if unknown:  # e.g. LLaMA 3.1's rope_freqs.weight: ignoring it would change the model
        raise ValueError(f"Llama.from_gguf: {f.path.name} has tensors this model does not "
                         f"use: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    for name, ours in names.items():
        w, p = _gguf_tensor(f, name, model.config), params[ours]
        if w.shape != p.shape:
            raise ValueError(f"Llama.from_gguf: {f.path.name}'s {name} has shape {w.shape}, "
                             f"but {ours} needs {p.shape} (config from the file's metadata)")
        p.data = w.astype(p.dtype, copy=False)


def _gguf_tensor(f, name: str, c: LlamaConfig) -> np.ndarray:
    """One de-quantised tensor, W_q / W_k un-permuted to the rotate-half layout."""
    w = f.tensor(name)
    if ".attn_q." in name:
        return unpermute_qk(w, c.num_heads)
    if ".attn_k." in name:
        return unpermute_qk(w, c.num_kv_heads)
    return w


def _array(v) -> np.ndarray:
    """A NumPy array from an array or a torch tensor (torch is never imported here)."""
    return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
