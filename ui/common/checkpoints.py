"""Checkpoints loaded once for every session: a file's model, and what the picker says of it, kept
until the file changes (keyed by path and mtime)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from torch import nn

from lenet.checkpoints import CheckpointError, accuracy_of, load_checkpoint, load_model

__all__ = ["describe", "load_saved", "mtime"]


def mtime(path: Path) -> float:
    """The file's mtime, which names its version in every cache here; 0.0 once it is gone."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # deleted a moment ago, by another session
        return 0.0


def describe(path: Path) -> tuple[str, float | None, dict] | None:
    """(model name, accuracy, config) of a checkpoint file; None if it can't be used."""
    return _describe(str(path), mtime(path))


def load_saved(path: str | Path) -> nn.Module:
    """A saved model by path, from the shared cache: read-only, like every model here."""
    return _load(str(path), mtime(Path(path)))


@st.cache_data(show_spinner=False, max_entries=256)
def _describe(path: str, mtime: float) -> tuple[str, float | None, dict] | None:
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        return None
    return ckpt["model"], accuracy_of(ckpt), ckpt["config"]


@st.cache_resource(show_spinner=False, max_entries=16)
def _load(path: str, mtime: float) -> nn.Module:
    """Shared by every session: eval mode, only ever run under no_grad, never modified."""
    return load_model(path)[0]
