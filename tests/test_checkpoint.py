"""Checkpoints: exact round trips, refusal of damaged files, atomic replacement, no pickle."""

import ast
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytransformer.checkpoint as ck
import tinytransformer.durable as durable
from tinytransformer.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from tinytransformer.optim import Adam
from tinytransformer.tensor import Tensor


def sample(version: int = 1):
    """(tensors, meta, optimizer) whose values all depend on `version`."""
    rng = np.random.default_rng(version)
    tensors = {
        "embed.weight": rng.normal(size=(7, 4)).astype(np.float32),
        "head.bias": rng.normal(size=5),  # float64
        "positions": np.arange(6, dtype=np.int64).reshape(2, 3) * version,
        "scale": np.array(version, dtype=np.float32),  # 0-d
        "empty": np.zeros((0, 3), dtype=np.float32),
        "mask": np.array([True, False, version % 2 == 0]),
    }
    meta = {
        "config": {"d_model": 4, "num_heads": 2, "dropout": 0.1, "pre_ln": False},
        "vocab": {"src": ["<pad>", "<unk>", "hello"], "tgt": ["<pad>", "你好", "世界"]},
        "step": 100 * version,
        "rng": {"bit_generator": "PCG64", "state": 2**100 + version, "inc": 3},
        "history": [[1, 2.5], [2, 1.25]],
        "note": None,
    }
    optimizer = {"step": np.array([3, 3], dtype=np.int64), "m.0": rng.normal(size=(7, 4))}
    return tensors, meta, optimizer


def assert_same(loaded, tensors, meta, optimizer):
    assert loaded.meta == meta
    for got, want in [(loaded.tensors, tensors), (loaded.optimizer, optimizer)]:
        if want is None:
            assert got is None
            continue
        assert got.keys() == want.keys()
        for k in want:
            assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, k
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def equals(loaded, version: int) -> bool:
    try:
        assert_same(loaded, *sample(version))
    except AssertionError:
        return False
    return True


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("with_optimizer", [True, False])
def test_round_trip_is_exact(tmp_path, with_optimizer):
    tensors, meta, optimizer = sample()
    optimizer = optimizer if with_optimizer else None
    save_checkpoint(tmp_path / "run" / "latest", tensors, meta, optimizer)
    loaded = load_checkpoint(tmp_path / "run" / "latest")
    assert_same(loaded, tensors, meta, optimizer)
    assert sorted(os.listdir(tmp_path / "run")) == ["latest"]  # nothing left beside it
    # the usual permissions (umask), like its parent made by mkdir, not a temp dir's 0700
    assert (tmp_path / "run" / "latest").stat().st_mode == (tmp_path / "run").stat().st_mode
    assert all(a.flags.writeable for a in loaded.tensors.values())


@given(arrays=st.dictionaries(
    st.text(min_size=1, max_size=8),
    hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.uint16, bool]),
               hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
    max_size=4))
def test_round_trip_any_arrays(arrays):
    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(Path(tmp) / "c", arrays, {"n": len(arrays)})
        loaded = load_checkpoint(Path(tmp) / "c")
    assert loaded.tensors.keys() == arrays.keys()
    for k, a in arrays.items():
        assert loaded.tensors[k].dtype == a.dtype
        np.testing.assert_array_equal(loaded.tensors[k], a)


def test_strided_view_is_saved_as_its_values(tmp_path):
    x = np.arange(12.0).reshape(3, 4)[:, ::2].T  # neither C- nor F-contiguous
    save_checkpoint(tmp_path / "c", {"x": x}, {})
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "c").tensors["x"], x)


def test_numpy_scalars_and_tuples_in_meta_become_json(tmp_path):
    meta = {"step": np.int64(5), "loss": np.float32(1.5), "ok": np.bool_(True), "shape": (2, 3)}
    save_checkpoint(tmp_path / "c", {}, meta)
    loaded = load_checkpoint(tmp_path / "c").meta
    assert loaded == {"step": 5, "loss": 1.5, "ok": True, "shape": [2, 3]}
    assert [type(loaded[k]) for k in ("step", "loss", "ok")] == [int, float, bool]


def test_optimizer_state_round_trips_into_an_optimizer(tmp_path):
    params = [Tensor(np.ones((3, 2), np.float32), requires_grad=True)]
    opt = Adam(params, lr=0.01)
    params[0].grad = np.full((3, 2), 0.5, np.float32)
    opt.step()
    save_checkpoint(tmp_path / "c", {"w": params[0].data}, {}, opt.state_dict())
    restored = Adam([Tensor(np.ones((3, 2), np.float32), requires_grad=True)])
    restored.load_state_dict(load_checkpoint(tmp_path / "c").optimizer)
    np.testing.assert_array_equal(restored.state["m"][0], opt.state["m"][0])
    assert restored.lr == 0.01 and restored.steps[0] == 1


@pytest.mark.parametrize("meta, tensors, match", [
    ({"x": np.zeros(3)}, {}, r"meta\['x'\] is an ndarray of shape \(3,\)"),
    ({"by_id": {1: "a"}}, {}, r"meta\['by_id'\]: key 1 is a int"),
    ({"cfg": [object()]}, {}, r"meta\['cfg'\]\[0\] is a object"),
    ({}, {"w": np.array([object()])}, r"model.safetensors: tensor 'w' has dtype object"),
    ({}, {3: np.zeros(1)}, r"tensor names must be strings"),
])
def test_unsavable_input_raises_type_error_and_writes_nothing(tmp_path, meta, tensors, match):
    with pytest.raises(TypeError, match=match):
        save_checkpoint(tmp_path / "c", tensors, meta)
    assert os.listdir(tmp_path) == []


# -- damaged checkpoints are refused, naming the file -----------------------------------------


def flip_last_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[-1] ^= 0x01  # the last byte is tensor data, past the safetensors header
    file.write_bytes(bytes(data))


def truncate(file: Path, n: int = 10) -> None:
    file.write_bytes(file.read_bytes()[:-n])


def edit_record(path: Path, edit, rehash: bool = False) -> None:
    """Change meta.json; with `rehash`, also fix record_sha256 (a consistent forgery)."""
    record = json.loads((path / "meta.json").read_text())
    edit(record)
    if rehash:
        record["record_sha256"] = ck._record_sha256(record)
    (path / "meta.json").write_text(json.dumps(record))


def garbage_with_matching_hash(path: Path) -> None:
    data = b"\x08\x00\x00\x00\x00\x00\x00\x00not json"
    (path / "model.safetensors").write_bytes(data)
    info = {"sha256": ck._sha256(data), "bytes": len(data)}
    edit_record(path, lambda r: r["files"].update({"model.safetensors": info}), rehash=True)


DAMAGE = [
    ("truncated_model", lambda p: truncate(p / "model.safetensors"),
     r"model.safetensors: has \d+ bytes but meta.json records \d+ \(file is truncated"),
    ("flipped_model_byte", lambda p: flip_last_byte(p / "model.safetensors"),
     r"model.safetensors: SHA-256 mismatch \(file is corrupted or was modified\)"),
    ("flipped_optimizer_byte", lambda p: flip_last_byte(p / "optimizer.safetensors"),
     r"optimizer.safetensors: SHA-256 mismatch"),
    ("missing_model", lambda p: (p / "model.safetensors").unlink(),
     r"model.safetensors: missing file"),
    ("missing_meta", lambda p: (p / "meta.json").unlink(), r"missing file meta.json"),
    ("meta_not_json", lambda p: truncate(p / "meta.json", 5),
     r"meta.json: meta.json is not valid JSON \(line \d+, column \d+"),
    ("meta_not_utf8", lambda p: (p / "meta.json").write_bytes(b"\xff\xfe{}"), r"not valid UTF-8"),
    ("meta_value_edited", lambda p: edit_record(p, lambda r: r["meta"].update(step=7)),
     r"meta.json: meta.json SHA-256 mismatch"),
    ("meta_file_hash_edited", lambda p: edit_record(
        p, lambda r: r["files"]["model.safetensors"].update(sha256="0" * 64)),
     r"meta.json SHA-256 mismatch"),
    ("newer_format", lambda p: edit_record(p, lambda r: r.update(format_version=2)),
     r"not a tinytransformer checkpoint \(format 'tinytransformer-checkpoint' version 2"),
    ("other_format", lambda p: (p / "meta.json").write_text('{"format": "keras"}'),
     r"not a tinytransformer checkpoint \(format 'keras'"),
    ("meta_is_a_list", lambda p: (p / "meta.json").write_text("[1, 2]"),
     r"not a tinytransformer checkpoint"),
    ("unknown_file_listed", lambda p: edit_record(
        p, lambda r: r["files"].update({"../x": {"sha256": "", "bytes": 0}}), rehash=True),
     r"malformed meta.json: 'files' lists unknown files \['../x'\]"),
    ("not_safetensors", garbage_with_matching_hash,
     r"model.safetensors: not a valid safetensors file \("),
]


@pytest.mark.parametrize("name, damage, match", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_checkpoint_is_refused(tmp_path, name, damage, match):
    save_checkpoint(tmp_path / "c", *sample())
    load_checkpoint(tmp_path / "c")  # fine before the damage
    damage(tmp_path / "c")
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(tmp_path / "c")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("make, match", [
    (lambda p: (p / "notes.txt").write_text("hi"), r"missing file meta.json"),
    (lambda p: (p / "meta.json").write_text("{}"), r"not a tinytransformer checkpoint"),
    (lambda p: None, r"missing file meta.json"),  # an empty directory
])
def test_directory_that_is_not_a_checkpoint_is_refused(tmp_path, make, match):
    (tmp_path / "d").mkdir()
    make(tmp_path / "d")
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path / "d")


def test_missing_path_and_plain_file_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing \(no such checkpoint directory\)"):
        load_checkpoint(tmp_path / "nothing")
    (tmp_path / "f").write_text("x")
    with pytest.raises(CheckpointError, match=r"not a directory"):
        load_checkpoint(tmp_path / "f")


@pytest.mark.parametrize("make", [
    lambda p: p.write_text("a file"),
    lambda p: (p.mkdir(), (p / "train.log").write_text("precious")),
])
def test_save_refuses_to_replace_what_is_not_a_checkpoint(tmp_path, make):
    make(tmp_path / "c")
    before = sorted(str(f.relative_to(tmp_path)) for f in tmp_path.rglob("*"))
    with pytest.raises(CheckpointError, match="refusing to replace it"):
        save_checkpoint(tmp_path / "c", *sample())
    assert sorted(str(f.relative_to(tmp_path)) for f in tmp_path.rglob("*")) == before


# -- atomic replacement --------------------------------------------------------------------------


def fail_on_call(monkeypatch, module, name, n):
    """Make module.name raise OSError on its n-th call."""
    real, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise OSError(f"injected failure in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


@pytest.mark.parametrize("name, n", [
    ("replace", 1),  # moving the old checkpoint aside
    ("replace", 2),  # moving the new one in
    ("fsync", 2),  # while writing the second file
    ("fsync", 4),  # syncing the staging directory
])
def test_failed_overwrite_keeps_the_old_checkpoint(tmp_path, monkeypatch, name, n):
    save_checkpoint(tmp_path / "latest", *sample(1))
    fail_on_call(monkeypatch, os, name, n)
    with pytest.raises(OSError, match="injected failure"):
        save_checkpoint(tmp_path / "latest", *sample(2))
    monkeypatch.undo()
    assert equals(load_checkpoint(tmp_path / "latest"), 1)
    assert os.listdir(tmp_path) == ["latest"]  # the staging directory was removed


def test_overwriting_a_symlink_replaces_the_link_not_what_it_points_to(tmp_path):
    save_checkpoint(tmp_path / "step1", *sample(1))
    (tmp_path / "latest").symlink_to(tmp_path / "step1", target_is_directory=True)
    save_checkpoint(tmp_path / "latest", *sample(2))
    assert not (tmp_path / "latest").is_symlink()
    assert equals(load_checkpoint(tmp_path / "latest"), 2)
    assert equals(load_checkpoint(tmp_path / "step1"), 1)
    assert sorted(os.listdir(tmp_path)) == ["latest", "step1"]


def crash_during_save(target: Path, version: int, k: int) -> int:
    """Save in a forked child that dies (os._exit) just before its k-th file-system step.

    Returns the child's exit code: 3 if it crashed, 0 if the save finished first.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        code = 2
        try:
            calls = [0]

            def crashing(real, half_write=False):
                def step(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == k:
                        if half_write:  # die with the file half written
                            Path(args[0]).write_bytes(args[1][: len(args[1]) // 2])
                        os._exit(3)
                    return real(*args, **kwargs)
                return step

            os.replace, os.fsync = crashing(os.replace), crashing(os.fsync)
            shutil.rmtree = crashing(shutil.rmtree)
            durable.write_synced = crashing(durable.write_synced, half_write=True)
            save_checkpoint(target, *sample(version))
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to simulate a crash")
def test_crash_at_any_point_leaves_old_or_new_checkpoint(tmp_path):
    seen = []
    for k in range(1, 40):
        target = tmp_path / f"crash{k}" / "latest"
        save_checkpoint(target, *sample(1))
        code = crash_during_save(target, 2, k)
        assert code in (0, 3), f"save failed in the child (exit code {code})"
        loaded = load_checkpoint(target)
        seen.append(1 if equals(loaded, 1) else 2 if equals(loaded, 2) else "half")
        for stray in target.parent.iterdir():  # whatever is left: complete or refused
            try:
                assert equals(load_checkpoint(stray), 1) or equals(load_checkpoint(stray), 2)
            except CheckpointError:
                pass
        save_checkpoint(target, *sample(3))  # the next save cleans up after the crash
        assert os.listdir(target.parent) == ["latest"]
        assert equals(load_checkpoint(target), 3)
        if code == 0:
            break
    assert code == 0 and len(seen) > 8, seen
    assert seen == sorted(seen) and seen[0] == 1 and seen[-1] == 2, seen  # old, ..., old, new


# -- no pickle anywhere in the package -----------------------------------------------------------

PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve"}


def pickle_uses(source: str) -> list[str]:
    """Lines that import a pickling module or pass allow_pickle anything but literal False."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found += [f"line {node.lineno}: import {n}" for n in names
                  if n.split(".")[0] in PICKLING_MODULES]
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                found.append(f"line {node.value.lineno}: allow_pickle={ast.unparse(node.value)}")
    return found


@pytest.mark.parametrize("source, n_found", [
    ("import pickle", 1),
    ("import json, cloudpickle as cp", 1),
    ("from pickle import loads", 1),
    ("import numpy as np\nnp.load('f.npy', allow_pickle=True)", 1),
    ("np.load('f.npz', allow_pickle=flag)", 1),
    ("np.load('f.npy', allow_pickle=False)", 0),
    ("import json\nimport safetensors.numpy", 0),
])
def test_pickle_checker_finds_what_it_should(source, n_found):
    assert len(pickle_uses(source)) == n_found


def test_no_module_in_the_package_uses_pickle():
    package = Path(ck.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert {"checkpoint.py", "optim.py"} <= {f.name for f in files}
    offences = {str(f.relative_to(package)): pickle_uses(f.read_text(encoding="utf-8"))
                for f in files}
    assert {f: o for f, o in offences.items() if o} == {}


def test_safetensors_bytes_are_what_we_hash(tmp_path):
    tensors, meta, _ = sample()
    save_checkpoint(tmp_path / "c", tensors, meta)
    data = (tmp_path / "c" / "model.safetensors").read_bytes()
    record = json.loads((tmp_path / "c" / "meta.json").read_text(encoding="utf-8"))
    assert record["files"]["model.safetensors"]["sha256"] == ck._sha256(data)
    assert safetensors.numpy.load(data).keys() == tensors.keys()
    assert record["meta"] == meta and record["format_version"] == ck.FORMAT_VERSION


def test_a_full_disk_names_the_path_and_the_bytes_and_keeps_the_old_checkpoint(
        tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "latest", *sample(1))

    def full(path, data):
        raise OSError(28, "No space left on device", str(path))  # errno ENOSPC

    monkeypatch.setattr(durable, "write_synced", full)
    with pytest.raises(CheckpointError, match=r"latest: no space left on the device "
                                              r"\(\d+\.\d MB needed\); the previous checkpoint "
                                              r"is intact"):
        save_checkpoint(tmp_path / "latest", *sample(2))
    monkeypatch.undo()
    assert equals(load_checkpoint(tmp_path / "latest"), 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]  # no staging left behind
