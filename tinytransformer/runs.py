"""A run folder, and the rules that keep a trained model from being lost.

    runs/toy/latest/      the last checkpoint: `--resume` continues from it
    runs/toy/best/        the best one by the validation score
    runs/toy/curves.png

- A new run never replaces an existing one silently: `open_run` refuses, naming the step and
  the score it would destroy, unless the caller resumes or asks to overwrite.
- A checkpoint counts as present when only the backup of an interrupted save is on disk
  (`load_checkpoint` falls back to it), so `--resume` after such a crash continues the run.
- The folder must be writable and its checkpoint slots replaceable before step 1, not at the
  first evaluation.
- A data file is remembered by absolute path, size and SHA-256, so a run can be evaluated or
  resumed from any working folder, with a warning when the file has changed since.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from .checkpoint import check_replaceable, checkpoint_exists, load_meta

SLOTS = ("latest", "best")


class RunError(RuntimeError):
    """A run cannot start as asked; the message says what to do instead."""


def open_run(run_dir, resume: bool = False, overwrite: bool = False) -> Path | None:
    """Check `run_dir` before any work: the checkpoint to resume from, or None for a new run.

    With `overwrite`, an existing run's checkpoints are deleted by `clear_run` (called by the
    trainer once everything else has been checked), not here.
    """
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise RunError("--resume continues a run and --overwrite replaces it: pass one of them")
    latest = run_dir / "latest"
    if resume and not checkpoint_exists(latest):
        raise RunError(f"{latest}: nothing to resume (no checkpoint there); "
                       f"start a new run without --resume")
    if not resume and not overwrite and any(checkpoint_exists(run_dir / s) for s in SLOTS):
        raise RunError(f"{run_dir} already holds a run ({describe_run(run_dir)}): continue it "
                       f"with --resume, train into another folder with --run DIR, or replace "
                       f"it with --overwrite")
    check_writable(run_dir)
    return latest if resume else None


def describe_run(run_dir) -> str:
    """"latest at step 1500, best at step 1000 with valid BLEU 99.5", from the checkpoints."""
    parts = []
    for slot in SLOTS:
        if checkpoint_exists(Path(run_dir) / slot):
            try:
                meta = load_meta(Path(run_dir) / slot)
            except Exception:  # a damaged checkpoint is still something to keep
                parts.append(f"{slot} (unreadable)")
                continue
            best = meta.get("best") if slot == "best" else None
            score = f" with {best['name']} {best['value']:.4g}" if isinstance(best, dict) else ""
            parts.append(f"{slot} at step {meta.get('step', '?')}{score}")
    return ", ".join(parts)


def check_writable(run_dir) -> None:
    """The folder can be created and written, and nothing but checkpoints is in the slots."""
    run_dir = Path(run_dir)
    probe = run_dir / f".write-test-{os.getpid()}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise RunError(f"{run_dir}: cannot write checkpoints there ({e.strerror})") from None
    for slot in SLOTS:
        check_replaceable(run_dir / slot)


def clear_run(run_dir) -> None:
    """Delete a run's checkpoints, the backups of interrupted saves and its curves (--overwrite)."""
    run_dir = Path(run_dir)
    for slot in SLOTS:
        for path in [run_dir / slot, *run_dir.glob(f".{slot}.*-*")]:  # backups, staging
            shutil.rmtree(path, ignore_errors=True)
    (run_dir / "curves.png").unlink(missing_ok=True)


def fingerprint(path) -> dict:
    """{"path": absolute path, "bytes": size, "sha256": hex digest} of a data file."""
    path = Path(path).resolve()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def data_changed(stored: dict | None) -> str | None:
    """A warning if the data file a run was trained on is gone or differs now, else None."""
    if not stored:
        return None
    path = Path(stored["path"])
    if not path.is_file():
        return f"the run's data file {path} is missing"
    if fingerprint(path)["sha256"] != stored["sha256"]:
        return (f"the run's data file {path} has changed since training (SHA-256 differs): "
                f"its splits may differ from the ones the run used")
    return None
