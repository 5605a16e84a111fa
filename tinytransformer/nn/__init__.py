"""Neural-network modules: Module, the basic layers, attention, and the Transformer's pieces."""

from .attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from .gqa import GroupedQueryAttention
from .layers import Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList, Parameter, inference
from .rmsnorm import RMSNorm
from .rotary import RotaryEmbedding, apply_rotary_pos_emb, permute_qk, rotate_half, unpermute_qk
from .swiglu import SwiGLU
from .transformer import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    embed_tokens,
    positional_encoding,
)

__all__ = [
    "Module", "ModuleList", "Parameter", "inference", "Linear", "Embedding", "LayerNorm", "Dropout",
    "MultiHeadAttention", "KVCache", "causal_mask", "padding_mask", "scaled_dot_product_attention",
    "SinusoidalPositionalEncoding", "LearnedPositionalEncoding", "positional_encoding",
    "EncoderLayer", "DecoderLayer", "Encoder", "Decoder", "embed_tokens",
    # the LLaMA-style pieces
    "RMSNorm", "RotaryEmbedding", "apply_rotary_pos_emb", "rotate_half", "permute_qk",
    "unpermute_qk", "SwiGLU", "GroupedQueryAttention",
]
