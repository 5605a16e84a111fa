"""Checkpoints: weights in safetensors, everything else in JSON beside them, written atomically.

A checkpoint is a directory, e.g. runs/toy/latest/:
    model.safetensors       the model's state dict, name -> array
    optimizer.safetensors   the optimiser's state dict (optional)
    meta.json               {"format": "tinytransformer-checkpoint", "format_version": 1,
                             "files": {"model.safetensors": {"sha256": ..., "bytes": ...}, ...},
                             "meta": <the caller's JSON-able dict: config, vocabularies, step, ...>,
                             "record_sha256": SHA-256 of this JSON without this field}

Saving writes the folder with durable.write_folder: into a hidden staging folder, fsynced, then
renamed into place, the old checkpoint kept as a hidden backup until the new one is in; a crash
between the two renames leaves the complete old checkpoint as the backup, which `load_checkpoint`
falls back to and the next save puts back first. So at every instant one complete checkpoint,
old or new, is on disk. One writer at a time.

Loading checks the format, the record's own hash, and each file's size and SHA-256 before
safetensors parses it; anything wrong is a `CheckpointError` naming the file. No pickle.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy

from . import durable

__all__ = ["Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint", "load_meta",
           "checkpoint_exists", "check_replaceable"]

FORMAT, FORMAT_VERSION = "tinytransformer-checkpoint", 1
MODEL_FILE, OPTIMIZER_FILE, META_FILE = "model.safetensors", "optimizer.safetensors", "meta.json"
CHECKPOINT_FILES = frozenset({MODEL_FILE, OPTIMIZER_FILE, META_FILE})
_SAFETENSORS_DTYPES = frozenset(np.dtype(t) for t in (
    "float16", "float32", "float64", "complex64", "bool",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
))


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or written; the message names the file."""


@dataclass
class Checkpoint:
    tensors: dict[str, np.ndarray]
    meta: dict
    optimizer: dict[str, np.ndarray] | None
    path: Path


# -- saving ----------------------------------------------------------------------------------


def save_checkpoint(path, tensors: dict[str, np.ndarray], meta: dict,
                    optimizer: dict[str, np.ndarray] | None = None) -> Path:
    """Write `tensors`, `optimizer` and `meta` as the checkpoint directory `path`, atomically."""
    target = Path(os.path.abspath(path))  # "." or "run/.." have no usable name to rename
    files = {MODEL_FILE: _serialize(tensors, MODEL_FILE)}
    if optimizer is not None:
        files[OPTIMIZER_FILE] = _serialize(optimizer, OPTIMIZER_FILE)
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "files": {n: {"sha256": _sha256(b), "bytes": len(b)} for n, b in files.items()},
        "meta": _json_ready(meta, "meta"),
    }
    record["record_sha256"] = _record_sha256(record)
    files[META_FILE] = json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")
    durable.recover(target)
    check_replaceable(target)
    try:
        return durable.write_folder(target, files)  # meta.json last: it vouches for the others
    except OSError as e:
        if e.errno == errno.ENOSPC:
            needed = sum(len(b) for b in files.values()) / 1e6
            raise CheckpointError(f"{target}: no space left on the device ({needed:.1f} MB "
                                  f"needed); the previous checkpoint is intact") from e
        raise


def _serialize(tensors: dict[str, np.ndarray], filename: str) -> bytes:
    if not isinstance(tensors, dict):
        raise TypeError(f"{filename}: expected a dict of name -> ndarray, got {type(tensors)}")
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"{filename}: tensor names must be strings, got {key!r}")
        # C order: safetensors copies raw memory, so a strided view would be saved scrambled
        array = np.asarray(value, order="C")
        if array.dtype not in _SAFETENSORS_DTYPES:
            raise TypeError(f"{filename}: tensor {key!r} has dtype {array.dtype}, which "
                            f"safetensors cannot store (pass numeric ndarrays, e.g. Tensor.data)")
        arrays[key] = array
    try:
        return safetensors.numpy.save(arrays)
    except Exception as e:  # safetensors raises its own SafetensorError
        raise CheckpointError(f"{filename}: safetensors could not serialize it ({e})") from e


def _json_ready(obj, where: str):
    """A copy of `obj` that json.dumps writes and json.loads reads back equal.

    NumPy scalars become Python numbers; tuples become lists; anything else raises.
    """
    if isinstance(obj, np.generic) and not isinstance(obj, np.object_):
        return obj.item()
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"{where}: key {k!r} is a {type(k).__name__}; JSON keys are "
                                f"strings, and would not load back as {type(k).__name__}")
        return {k: _json_ready(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        raise TypeError(f"{where} is an ndarray of shape {obj.shape}: put arrays in `tensors`, "
                        f"or convert it with .tolist()")
    raise TypeError(f"{where} is a {type(obj).__name__}, which JSON cannot hold "
                    f"(convert dataclasses with dataclasses.asdict)")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record_sha256(record: dict) -> str:
    """SHA-256 of the record minus this field, as canonical JSON (sorted keys, compact)."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def check_replaceable(target: Path) -> None:
    """Refuse to replace anything that is not a checkpoint: it would be deleted."""
    if not target.exists():
        return
    if not target.is_dir():
        raise CheckpointError(f"{target}: exists and is not a checkpoint directory; "
                              f"refusing to replace it")
    others = sorted(set(os.listdir(target)) - CHECKPOINT_FILES)
    if others:
        raise CheckpointError(f"{target}: holds files that are not part of a checkpoint "
                              f"{others}; refusing to replace it")


# -- loading ---------------------------------------------------------------------------------


def checkpoint_exists(path) -> bool:
    """A checkpoint is at `path`, or the backup an interrupted save left of it."""
    path = Path(path)
    return path.exists() or _latest_backup(path) is not None


def load_meta(path) -> dict:
    """The caller's meta dict of a checkpoint (verified by its hash), without reading weights."""
    return _read_record(_directory(path) / META_FILE)["meta"]


def load_checkpoint(path) -> Checkpoint:
    """Read and verify the checkpoint directory `path` (see the module docstring)."""
    directory = _directory(path)
    record = _read_record(directory / META_FILE)
    arrays = {name: _read_tensors(directory / name, info)
              for name, info in record["files"].items()}
    return Checkpoint(arrays[MODEL_FILE], record["meta"], arrays.get(OPTIMIZER_FILE), directory)


def _directory(path) -> Path:
    """The checkpoint directory to read: `path`, or the backup an interrupted save left."""
    target = Path(path)
    directory = target if target.exists() else _latest_backup(target)
    if directory is None:
        raise CheckpointError(f"{target}: missing (no such checkpoint directory)")
    if not directory.is_dir():
        raise CheckpointError(f"{target}: not a tinytransformer checkpoint (not a directory)")
    return directory


def _latest_backup(target: Path) -> Path | None:
    """The old checkpoint a save moved aside just before it crashed, if any."""
    backups = sorted(target.parent.glob(f".{target.name}.old-*"))
    return backups[-1] if backups else None


def _read_record(file: Path) -> dict:
    if not file.is_file():
        raise CheckpointError(f"{file}: missing file meta.json (not a tinytransformer "
                              f"checkpoint, or an incomplete one)")
    try:
        record = json.loads(file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{file}: meta.json is not valid UTF-8 ({e})") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{file}: meta.json is not valid JSON "
                              f"(line {e.lineno}, column {e.colno}: {e.msg})") from e
    kind = record.get("format") if isinstance(record, dict) else None
    version = record.get("format_version") if isinstance(record, dict) else None
    if kind != FORMAT or version != FORMAT_VERSION:
        raise CheckpointError(f"{file}: not a tinytransformer checkpoint (format {kind!r} "
                              f"version {version!r}; expected {FORMAT!r} version {FORMAT_VERSION})")
    _check_record_fields(file, record)
    if record["record_sha256"] != _record_sha256(record):
        raise CheckpointError(f"{file}: meta.json SHA-256 mismatch (record_sha256 does not "
                              f"match its content: the file is corrupted or was edited)")
    return record


def _check_record_fields(file: Path, record: dict) -> None:
    files = record.get("files")
    problem = None
    if not isinstance(record.get("meta"), dict) or not isinstance(record.get("record_sha256"), str):
        problem = "'meta' must be an object and 'record_sha256' a string"
    elif not isinstance(files, dict) or MODEL_FILE not in files:
        problem = f"'files' must be an object listing {MODEL_FILE}"
    elif not set(files) <= {MODEL_FILE, OPTIMIZER_FILE}:
        problem = f"'files' lists unknown files {sorted(set(files) - CHECKPOINT_FILES)}"
    elif not all(isinstance(i, dict) and isinstance(i.get("sha256"), str)
                 and isinstance(i.get("bytes"), int) for i in files.values()):
        problem = "each entry of 'files' needs a 'sha256' string and a 'bytes' integer"
    if problem:
        raise CheckpointError(f"{file}: malformed meta.json: {problem}")


def _read_tensors(file: Path, info: dict) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise CheckpointError(f"{file}: missing file (meta.json lists {file.name})")
    data = file.read_bytes()
    if len(data) != info["bytes"]:
        raise CheckpointError(f"{file}: has {len(data)} bytes but meta.json records "
                              f"{info['bytes']} (file is truncated or was modified)")
    if _sha256(data) != info["sha256"]:
        raise CheckpointError(f"{file}: SHA-256 mismatch "
                              f"(file is corrupted or was modified)")
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as e:  # SafetensorError, or a dtype NumPy does not know
        raise CheckpointError(f"{file}: not a valid safetensors file ({e})") from e
    return {k: a if a.flags.writeable else a.copy() for k, a in arrays.items()}
