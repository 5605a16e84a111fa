"""The models: the encoder-decoder translator, the decoder-only language model, and LLaMA."""

from .llama import Llama, LlamaConfig
from .llama_fast import FastLlama
from .lm import LanguageModel, LanguageModelConfig
from .translator import Transformer, TransformerConfig

__all__ = ["Transformer", "TransformerConfig", "LanguageModel", "LanguageModelConfig",
           "Llama", "LlamaConfig", "FastLlama"]
