"""The models: the encoder-decoder translator and the decoder-only language model."""

from .lm import LanguageModel, LanguageModelConfig
from .translator import Transformer, TransformerConfig

__all__ = ["Transformer", "TransformerConfig", "LanguageModel", "LanguageModelConfig"]
