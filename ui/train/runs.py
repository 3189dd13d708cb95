"""The user's saved runs, for the Train page's comparison chart."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from lenet.checkpoints import CheckpointError, load_checkpoint
from lenet.classroom.runs import saved_runs


@st.cache_data(show_spinner=False, max_entries=256)
def _history(path: str, mtime: float) -> list[dict] | None:
    try:
        return load_checkpoint(path)["history"]
    except CheckpointError:
        return None


def histories(folder: Path) -> dict[str, list[dict]]:
    """{run name: per-epoch history}, newest first, for every readable checkpoint in folder."""
    runs = {}
    for path in saved_runs(folder):
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:  # deleted a moment ago, by another session
            continue
        history = _history(str(path), mtime)
        if history:
            runs[path.stem] = history
    return runs
