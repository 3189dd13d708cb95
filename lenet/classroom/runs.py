"""The saved runs on disk: name them, list them, continue one, delete one, keep their number capped.

Every run, from the command line or the app, is named by one rule, `run_name()`:
"20261201-093000-lenet5-relu" (when it started, the model, its activation), or for a fine-tune
"20261201-093000-lenet5-class" (the model it tunes, and the class), and every list of them is in
one order, `saved_runs()`: newest first by the time in the name, so a run continued today stays
where it was.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import fields, replace
from pathlib import Path

from ..checkpoints import load_checkpoint
from ..config import TrainConfig
from ..files import ending_in, runs_dir
from ..messages import Message
from .news import bump, class_of

__all__ = ["continue_config", "delete_run", "max_runs", "prune_runs", "run_name", "saved_runs"]

STAMP = re.compile(r"^(\d{8}-\d{6})")  # a run name's start: when it started


def max_runs() -> int:
    """The runs kept (LENET_MAX_RUNS, default 30): the oldest beyond this are deleted."""
    return int(os.environ.get("LENET_MAX_RUNS") or 30)


def run_name(config: TrainConfig, tunes: str | None = None, when: float | None = None) -> str:
    """A new run's name: its start time (local, or `when`), then its model (and design) and
    activation, or for a fine-tune the name of the model it `tunes` and "class"."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    model = [config.model] + ([config.design] if config.design else [])  # a design sets the model to "design"
    what = [tunes, "class"] if tunes else [*model, config.activation or "default"]
    return "-".join([stamp, *what])


def _order(path: Path) -> tuple[str, float]:
    """Newest first by the start time in the name; a file named otherwise (copied in by hand)
    goes by its modification time, as the same kind of stamp."""
    found = STAMP.match(path.stem)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:  # deleted a moment ago
        mtime = 0.0
    return (found.group(1) if found else time.strftime("%Y%m%d-%H%M%S", time.localtime(mtime))), mtime


def saved_runs(folder: Path | None = None) -> list[Path]:
    """Every run checkpoint in `folder` (default: lenet.files.runs_dir()), newest first."""
    return sorted(ending_in(Path(folder or runs_dir()), ".pt"), key=_order, reverse=True)


def delete_run(path: Path, folder: Path | None = None, keep: Path | None = None) -> None:
    """Delete one saved run. Refuses anything outside `folder`, and `keep` (the run training now)."""
    path = Path(path).resolve()
    if path.parent != Path(folder or runs_dir()).resolve() or path.suffix != ".pt":
        raise ValueError(Message("run.not_a_run", name=path.name))
    if keep is not None and path == Path(keep).resolve():
        raise ValueError(Message("run.training_now", name=path.stem))
    path.unlink(missing_ok=True)
    bump("runs", class_of(path.parent))


def prune_runs(folder: Path | None = None, cap: int | None = None, keep: Path | None = None) -> list[Path]:
    """Delete the oldest runs beyond `cap` (default max_runs()), never `keep`. Returns what was deleted."""
    cap = max_runs() if cap is None else cap
    runs = [p for p in saved_runs(folder) if keep is None or p.resolve() != Path(keep).resolve()]
    room = cap - (1 if keep is not None and Path(keep).exists() else 0)
    doomed = runs[max(0, room):]
    for path in doomed:
        path.unlink(missing_ok=True)
    if doomed:
        bump("runs", class_of(doomed[0].parent))
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
