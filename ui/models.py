"""The model picker every page shares, and cached model loading."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from torch import nn

from lenet.checkpoints import CHECKPOINT_DIR, RUNS_DIR, CheckpointError, accuracy_of, load_checkpoint, load_model
from lenet.jobs import current_job

LIVE = "live"
DEFAULT = str(CHECKPOINT_DIR / "lenet5.pt")


@dataclass(frozen=True)
class Choice:
    key: str  # a checkpoint path, or LIVE for the model being trained right now
    label: str  # what the picker shows, with the accuracy
    model: str  # lenet5 | lenet5-classic | mlp


@st.cache_data(show_spinner=False, max_entries=256)
def _describe(path: str, mtime: float) -> tuple[str, float | None, dict] | None:
    """(model name, accuracy, config) of a checkpoint file; None if it can't be used."""
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        return None
    return ckpt["model"], accuracy_of(ckpt), ckpt["config"]


@st.cache_resource(show_spinner=False, max_entries=16)
def _load(path: str, mtime: float) -> nn.Module:
    """Shared by every session: eval mode, only ever run under no_grad, never modified."""
    return load_model(path)[0]


def _label(name: str, accuracy: float | None) -> str:
    return f"{name} · {accuracy:.2%}" if accuracy is not None else f"{name} · no accuracy yet"


def choices() -> list[Choice]:
    """Shipped checkpoints, then the user's finished runs (newest first), then the live model."""
    found = []
    for folder, prefix in ((CHECKPOINT_DIR, ""), (RUNS_DIR, "run ")):
        paths = sorted(folder.glob("*.pt"), reverse=bool(prefix))
        for path in paths:
            info = _describe(str(path), path.stat().st_mtime)
            if info is not None:
                found.append(Choice(str(path), _label(prefix + path.stem, info[1]), info[0]))
    job = current_job()
    if job is not None:
        snap = job.snapshot()
        if snap.running and job.has_live_model():
            last = snap.epochs[-1]["eval_accuracy"] if snap.epochs else None
            label = f"live: {snap.config.model} in training" + (f" · {last:.2%}" if last is not None else "")
            found.append(Choice(LIVE, label, snap.config.model))
    return found


def picker() -> None:
    """The sidebar's model picker; its choice is kept in st.session_state["model_key"]."""
    options = choices()
    keys = [c.key for c in options]
    current = st.session_state.get("model_key", DEFAULT)
    if current not in keys:  # a run was deleted, or the live job ended
        current = DEFAULT if DEFAULT in keys else (keys[0] if keys else None)
    if not keys:
        st.sidebar.warning("No checkpoints found in checkpoints/. Train one on the Train page.")
        return
    labels = {c.key: c.label for c in options}
    st.session_state["model_key"] = st.sidebar.selectbox(
        "Model", keys, index=keys.index(current), format_func=labels.__getitem__,
        help="Used by Draw and Explain: the shipped checkpoints, your own runs, and the model being trained now.")


def selected() -> tuple[nn.Module | None, Choice | None]:
    """The picked model (shared and read-only) and its entry; (None, None) if there is none."""
    key = st.session_state.get("model_key", DEFAULT)
    for choice in choices():
        if choice.key == key:
            if key == LIVE:
                job = current_job()
                model = job.live_model() if job else None
                return (model, choice) if model is not None else (None, None)
            return _load(key, Path(key).stat().st_mtime), choice
    return None, None


def all_models() -> list[tuple[Choice, nn.Module]]:
    """Every saved checkpoint's model, for the Draw page's side-by-side view."""
    return [(c, _load(c.key, Path(c.key).stat().st_mtime)) for c in choices() if c.key != LIVE]
