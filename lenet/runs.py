"""The saved runs on disk: list them, continue one, delete one, and keep their number capped."""
from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path

from .checkpoints import RUNS_DIR, load_checkpoint
from .messages import Message
from .train import TrainConfig

__all__ = ["MAX_RUNS", "continue_config", "delete_run", "prune_runs", "saved_runs"]

MAX_RUNS = int(os.environ.get("LENET_MAX_RUNS", "30"))  # the oldest runs beyond this are deleted


def saved_runs(folder: Path = RUNS_DIR) -> list[Path]:
    """Every run checkpoint in folder, newest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)


def delete_run(path: Path, folder: Path = RUNS_DIR, keep: Path | None = None) -> None:
    """Delete one saved run. Refuses anything outside `folder`, and `keep` (the run training now)."""
    path = Path(path).resolve()
    if path.parent != Path(folder).resolve() or path.suffix != ".pt":
        raise ValueError(Message("run.not_a_run", name=path.name))
    if keep is not None and path == Path(keep).resolve():
        raise ValueError(Message("run.training_now", name=path.stem))
    path.unlink(missing_ok=True)


def prune_runs(folder: Path = RUNS_DIR, cap: int = MAX_RUNS, keep: Path | None = None) -> list[Path]:
    """Delete the oldest runs beyond `cap`, never `keep`. Returns what was deleted."""
    runs = [p for p in saved_runs(folder) if keep is None or p.resolve() != Path(keep).resolve()]
    room = cap - (1 if keep is not None and Path(keep).exists() else 0)
    doomed = runs[max(0, room):]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def continue_config(path: Path, epochs: int) -> tuple[TrainConfig, dict]:
    """The recipe a saved run was trained with, for `epochs` more epochs, and its checkpoint.

    Raises CheckpointError for an unreadable file, ValueError for one without its recipe."""
    ckpt = load_checkpoint(path)
    known = {f.name for f in fields(TrainConfig)}
    recipe = {k: v for k, v in (ckpt.get("train") or {}).items() if k in known}
    if recipe.get("model", ckpt["model"]) != ckpt["model"] or not recipe:
        raise ValueError(Message("run.no_recipe", name=Path(path).name))
    config = replace(TrainConfig(**recipe), epochs=epochs)
    config.validate()
    return config, ckpt
