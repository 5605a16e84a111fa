"""Neural-network modules: Module, the basic layers, attention, and the Transformer's pieces."""

from .attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from .layers import Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList, Parameter, inference
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
]
