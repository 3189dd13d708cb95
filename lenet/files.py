"""Where LeNet Lab keeps things on disk, and the one way it writes a file.

The folders are read from the environment each time they are asked for, not copied at import,
so a server, a test or a bench sets LENET_RUNS (or LENET_DATA) once and every part follows.

    LENET_DATA   MNIST's raw files                 (default: data/ beside the code)
    LENET_RUNS   the user's saved runs             (default: checkpoints/runs/)
                 and, under class/, the class collection
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["CHECKPOINT_DIR", "ROOT", "collection_dir", "data_root", "runs_dir", "write_atomic"]

ROOT = Path(__file__).resolve().parents[1]  # the repository
CHECKPOINT_DIR = ROOT / "checkpoints"  # the shipped models, tracked in git


def data_root() -> Path:
    """The data folder: MNIST goes in data_root()/MNIST/raw."""
    return Path(os.environ.get("LENET_DATA") or ROOT / "data")


def runs_dir() -> Path:
    """The user's saved runs (git-ignored)."""
    return Path(os.environ.get("LENET_RUNS") or CHECKPOINT_DIR / "runs")


def collection_dir() -> Path:
    """The class collection: drawings students confirmed, beside the runs."""
    return runs_dir() / "class"


Source = bytes | BinaryIO | Callable[[BinaryIO], None]  # the bytes, a file to copy, or a writer


def write_atomic(path: Path, source: Source, *, mode: int = 0o644, sync: bool = False) -> Path:
    """Write `path` so that no reader ever sees it half-written: a temporary file in the same
    folder (".<name>.<random>.tmp", which no listing here matches), then os.replace. A crash or
    an error leaves the old file, or none, never a torn one. `sync` also waits for the disk,
    for files worth a crash's worth of care (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(source, bytes):
                f.write(source)
            elif callable(source):
                source(f)
            else:
                shutil.copyfileobj(source, f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it private; these files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
