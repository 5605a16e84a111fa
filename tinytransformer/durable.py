"""Folders written so that a crash leaves the old one or the new one, never half of either.

    write_folder(target, {"model.safetensors": b"...", "meta.json": b"..."})

Every file goes into a hidden staging folder beside the target (same filesystem, so renames are
atomic), each fsynced, then the folder itself; then it is renamed into place. Replacing an
existing folder takes two renames (old -> hidden backup, staging -> target), and the backup is
deleted last; a crash between the two renames leaves the complete old folder as the backup,
which `recover` (called by the next write) puts back. One writer at a time. Checkpoints
(checkpoint.py) and exported torch folders (interop/files.py) are written this way.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path


def write_folder(target: Path, files: dict[str, bytes]) -> Path:
    """Write `files` (name -> bytes, in this order) as the folder `target`, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()  # not tempfile.mkdtemp: its 0700 mode would stick to the folder
    try:
        for name, data in files.items():
            write_synced(staging / name, data)
        fsync_dir(staging)
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def write_synced(path: Path, data: bytes) -> None:
    """A new file with `data`, on the disk when this returns."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def swap_in(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an existing target goes to a backup, deleted last."""
    if not target.exists():
        os.replace(staging, target)
        fsync_dir(target.parent)
        return
    backup = target.parent / f".{target.name}.old-{time.time_ns():020d}-{os.getpid()}"
    os.replace(target, backup)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(backup, target)  # put the old folder back where it was
        raise
    fsync_dir(target.parent)
    remove(backup)  # the new folder is in place: from here on, failure is harmless


def recover(target: Path) -> None:
    """Undo what a crashed write left: restore a backup if the target is gone, drop strays."""
    backups = sorted(target.parent.glob(f".{target.name}.old-*"))
    if backups and not target.exists():
        os.replace(backups.pop(), target)
        fsync_dir(target.parent)
    for stray in backups + list(target.parent.glob(f".{target.name}.tmp-*")):
        remove(stray)


def remove(path: Path) -> None:
    """Delete a leftover folder (or the symlink the old target was); a failure only leaves a
    hidden stray that the next write removes."""
    if path.is_symlink():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
