"""The LLaMA model <-> a folder that transformers' `LlamaForCausalLM.from_pretrained` loads.

    OUT/config.json         transformers' LlamaConfig fields: hidden_size = d_model,
                            num_hidden_layers = num_layers, ... (`HF_FIELDS`)
    OUT/model.safetensors   `Llama.to_hf_state_dict()`: model.embed_tokens.weight,
                            model.layers.N.self_attn.q_proj.weight, ..., lm_head.weight
                            (left out when tied: transformers ties it on loading)

Writing and reading the folder need neither torch nor transformers. The pretrained LLM enters
the project from a GGUF file (`tinytransformer fetch smollm2`), so this is where it leaves
for the PyTorch ecosystem: `export --checkpoint smollm2 --to torch OUT`. Its tokenizer is not
written: transformers reads it from the same GGUF file (`AutoTokenizer.from_pretrained(folder,
gguf_file=name)`). There is no checkpoint of the LLM to import back into: `load_llama_folder`
reads the folder as a `Llama` in Python.
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import CheckpointError
from ..models.config import DTYPES
from ..models.llama import Llama, LlamaConfig
from .files import read_folder, save_torch_folder

HF_FIELDS = {  # ours -> transformers' LlamaConfig
    "vocab_size": "vocab_size", "d_model": "hidden_size", "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads", "num_kv_heads": "num_key_value_heads",
    "d_ff": "intermediate_size", "rms_eps": "rms_norm_eps",
    "max_len": "max_position_embeddings", "tie_embeddings": "tie_word_embeddings",
}
TIED = "lm_head.weight"


def hf_config(c: LlamaConfig) -> dict:
    """transformers' config.json of a LlamaForCausalLM shaped as `c` (what ours has no knob
    for is written as ours computes it: SiLU, no biases, plain RoPE)."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            **{hf: getattr(c, ours) for ours, hf in HF_FIELDS.items()},
            "head_dim": c.head_dim, "hidden_act": "silu", "attention_bias": False,
            "mlp_bias": False, "rope_theta": c.rope_theta,
            "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_theta},
            "torch_dtype": c.dtype}


def config_from_hf(d: dict, where) -> LlamaConfig:
    """Our LlamaConfig from transformers' config.json; what ours cannot compute is refused."""
    rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
    unsupported = {"model_type": d.get("model_type") != "llama",
                   "hidden_act": d.get("hidden_act", "silu") != "silu",
                   "attention_bias": bool(d.get("attention_bias")),
                   "mlp_bias": bool(d.get("mlp_bias")),
                   "rope_type": rope.get("rope_type", "default") != "default"}
    if any(unsupported.values()):
        names = [k for k, bad in unsupported.items() if bad]
        raise CheckpointError(f"{where}: a model our Llama does not compute ({', '.join(names)} "
                              f"differ from a plain LLaMA's)")
    theta = d["rope_theta"] if "rope_theta" in d else rope["rope_theta"]
    dtype = d.get("torch_dtype") or d.get("dtype") or "float32"
    return LlamaConfig(**{ours: d[hf] for ours, hf in HF_FIELDS.items()}, rope_theta=theta,
                       dtype=dtype if dtype in DTYPES else "float32")


def save_llama_folder(model: Llama, out) -> Path:
    """Write `model` as a transformers folder (config.json + model.safetensors), atomically."""
    state = model.to_hf_state_dict()
    if model.config.tie_embeddings:
        del state[TIED]  # the same array as the embedding; transformers ties it back
    return save_torch_folder(out, state, hf_config(model.config))


def load_llama_folder(folder) -> Llama:
    """A `Llama` from a transformers folder that `save_llama_folder` (or transformers'
    `save_pretrained` with safetensors, in one file) wrote."""
    state, config = read_folder(folder)
    return Llama.from_hf_state_dict(state, config_from_hf(config, Path(folder) / "config.json"))
