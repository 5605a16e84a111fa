"""Export a checkpoint to a folder a PyTorch user loads, and import such a folder back.

    OUT/                  an export (what `tinytransformer export --to torch` writes)
      model.safetensors   the torch module's state dict, under torch's names; no pickle
      optimizer.safetensors  AdamW's moments and step counts by parameter name, when the
                          checkpoint has them (`interop/optimizer.py`)
      config.json         {"format": "tinytransformer-torch", "format_version": 1,
                           "kind": "translator" | "lm",
                           "meta": the checkpoint's meta, as it was: model_config, train_config,
                                   step, src_vocab + tgt_vocab or tokenizer, history, ...}

    export_checkpoint("runs/toy/best", "exports/toy")      # torch is not needed for this
    model, config = load_torch_model("exports/toy")        # a TorchTranslator, in torch
    import_checkpoint("exports/toy", "runs/toy-back/best")  # a checkpoint `translate` reads

Only names change on the way; every array keeps its dtype and its bits, so
import(export(c)) == c. The folder is written as a checkpoint is (`checkpoint.py`): staged
beside the target, then renamed into place, so it is never half written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import safetensors.numpy

from .. import durable
from ..checkpoint import CheckpointError, checkpoint_exists, load_checkpoint, save_checkpoint
from .convert import our_name, to_torch_names, torch_name
from .optimizer import optimizer_from_torch, optimizer_to_torch

FORMAT, FORMAT_VERSION = "tinytransformer-torch", 1
WEIGHTS, CONFIG, OPTIMIZER = "model.safetensors", "config.json", "optimizer.safetensors"
KINDS = ("translator", "lm")


def config_class(kind: str):
    """The config dataclass of a model kind: TransformerConfig or LanguageModelConfig."""
    from ..models import LanguageModelConfig, TransformerConfig

    return {"translator": TransformerConfig, "lm": LanguageModelConfig}[kind]


def model_kind(meta: dict, where) -> str:
    """"translator" or "lm", from the fields of a checkpoint's model_config."""
    fields = set(meta.get("model_config") or {})
    if "src_vocab" in fields:
        return "translator"
    if "vocab_size" in fields and fields <= set(config_class("lm").__dataclass_fields__):
        return "lm"
    raise CheckpointError(f"{where}: its model_config is neither a translator's nor a language "
                          f"model's (fields {sorted(fields)}); export handles those two")


def our_model(kind: str, model_config: dict):
    """Our model of `kind` (`Transformer` or `LanguageModel`) built from a config dict."""
    from ..models import LanguageModel, Transformer

    config = config_class(kind).from_dict(model_config)
    return {"translator": Transformer, "lm": LanguageModel}[kind](config)


def torch_model(config):
    """The torch module a model of `config` maps onto, name for name (torch is imported here):
    `TorchTranslator` for a TransformerConfig, `TorchLanguageModel` for a LanguageModelConfig.
    Load our weights with `module.load_state_dict(to_torch_state_dict(model))`."""
    from ..models import LanguageModelConfig
    if isinstance(config, LanguageModelConfig):
        from .lm import TorchLanguageModel
        return TorchLanguageModel(config)
    from .translator import TorchTranslator
    return TorchTranslator(config)


# -- export and import ---------------------------------------------------------------------------


def export_checkpoint(checkpoint, out, overwrite: bool = False) -> Path:
    """Write the checkpoint folder `checkpoint` as the torch folder `out` (see above)."""
    refuse_existing(out, overwrite)
    ckpt = load_checkpoint(checkpoint)
    kind = model_kind(ckpt.meta, ckpt.path)
    model = our_model(kind, ckpt.meta["model_config"])
    model.load_state_dict(ckpt.tensors)  # refuses weights that do not fit, by name
    optimizer = None
    if ckpt.optimizer is not None:
        names = [torch_name(n, kind == "translator") for n, _ in model.named_parameters()]
        optimizer = optimizer_to_torch(ckpt.optimizer, names)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
              "meta": ckpt.meta}
    return save_torch_folder(out, to_torch_names(ckpt.tensors, kind == "translator"), config,
                             optimizer)


def import_checkpoint(folder, out, overwrite: bool = False) -> Path:
    """Write the torch folder `folder` (an export, or a torch run's output) as the checkpoint
    folder `out`, which `translate`, `attention` and `lm generate` read, and `train --resume`
    continues when the folder holds the optimizer's state."""
    refuse_existing(out, overwrite)
    tensors, config = read_torch_folder(folder)
    kind = config["kind"]
    ours = {our_name(k): v for k, v in tensors.items()}
    model = our_model(kind, config["meta"]["model_config"])
    model.load_state_dict(ours)  # refuses missing, unexpected or mis-shaped weights by name
    ours = {k: ours[k] for k in model.state_dict()}  # in the model's order, as trainers save
    optimizer = read_optimizer(folder)
    if optimizer is not None:
        names = [torch_name(n, kind == "translator") for n, _ in model.named_parameters()]
        optimizer = optimizer_from_torch(optimizer, names, model.parameters())
    return save_checkpoint(out, ours, config["meta"], optimizer)


def refuse_existing(out, overwrite: bool) -> None:
    """Nothing is replaced silently: an existing `out` needs `overwrite`."""
    if checkpoint_exists(out) and not overwrite:
        raise CheckpointError(f"{out}: already exists; choose another folder, or pass "
                              f"--overwrite to replace it")


def load_torch_model(folder, device="cpu"):
    """(torch module with the folder's weights, its config.json) from an exported folder."""
    import torch

    tensors, config = read_torch_folder(folder)
    module = torch_model(config_class(config["kind"]).from_dict(config["meta"]["model_config"]))
    module.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return module.to(device), config


# -- the folder ----------------------------------------------------------------------------------


def save_torch_folder(out, tensors: dict[str, np.ndarray], config: dict,
                      optimizer: dict[str, np.ndarray] | None = None) -> Path:
    """Write model.safetensors, config.json and optimizer.safetensors (if given) into `out`,
    atomically (replacing an earlier torch folder there, never anything else)."""
    target = Path(os.path.abspath(out))
    if target.exists() and (not target.is_dir()
                            or set(os.listdir(target)) - {WEIGHTS, CONFIG, OPTIMIZER}):
        raise CheckpointError(f"{target}: exists and is not a torch folder written here; "
                              f"refusing to replace it")
    files = {WEIGHTS: _safetensors(tensors),
             CONFIG: json.dumps(config, indent=1, ensure_ascii=False).encode("utf-8")}
    if optimizer is not None:
        files[OPTIMIZER] = _safetensors(optimizer)
    return durable.write_folder(target, files)


def _safetensors(arrays: dict[str, np.ndarray]) -> bytes:
    # C order: safetensors copies raw memory, so a strided view would be saved scrambled
    return safetensors.numpy.save({k: np.asarray(v, order="C") for k, v in arrays.items()})


def read_optimizer(folder) -> dict[str, np.ndarray] | None:
    """The optimizer state of a torch folder, or None when it has none."""
    file = Path(folder) / OPTIMIZER
    return _load_safetensors(file) if file.is_file() else None


def _load_safetensors(file: Path) -> dict[str, np.ndarray]:
    try:
        return safetensors.numpy.load(file.read_bytes())
    except FileNotFoundError as e:
        raise CheckpointError(f"{file}: missing") from e
    except Exception as e:  # safetensors raises its own SafetensorError
        raise CheckpointError(f"{file}: not a valid safetensors file ({e})") from e


def read_torch_folder(folder) -> tuple[dict[str, np.ndarray], dict]:
    """(tensors under torch's names, config.json) of a torch folder; errors name the file."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        what = ("it is a checkpoint: `tinytransformer export` writes it as a torch folder"
                if (folder / "meta.json").is_file() else "not a folder written by "
                "`tinytransformer export --to torch` or by `python -m tinytransformer.distributed`")
        raise CheckpointError(f"{folder / CONFIG}: missing ({what})")
    tensors, config = read_folder(folder)
    if (config.get("format"), config.get("format_version")) != (FORMAT, FORMAT_VERSION) or \
            config.get("kind") not in KINDS:
        hint = (": a transformers model, which `interop.load_llama_folder` reads"
                if config.get("model_type") == "llama" else "")
        raise CheckpointError(f"{folder / CONFIG}: not a {FORMAT} config (expected format "
                              f"{FORMAT!r} version {FORMAT_VERSION} and kind one of {KINDS})"
                              f"{hint}")
    return tensors, config


def read_folder(folder) -> tuple[dict[str, np.ndarray], dict]:
    """(model.safetensors as arrays, config.json as a dict) of a folder; errors name the file."""
    folder = Path(folder)
    file = folder / CONFIG
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CheckpointError(f"{file}: missing") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file}: not valid JSON ({e})") from e
    if not isinstance(config, dict):
        raise CheckpointError(f"{file}: a JSON object was expected, got {type(config).__name__}")
    return _load_safetensors(folder / WEIGHTS), config
