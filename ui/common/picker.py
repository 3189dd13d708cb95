"""The model picker every page shares (in the sidebar): the shipped checkpoints, the saved runs, the
class's board and the live model, and the one a session picked."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from torch import nn

from lenet.classroom.board import ranked, read_board
from lenet.classroom.jobqueue import current_job
from lenet.classroom.runs import saved_runs
from lenet.files import CHECKPOINT_DIR, ending_in
from ui.common.checkpoints import describe, load_saved, mtime
from ui.common.i18n import Text, text
from ui.common.news import follow

__all__ = ["DEFAULT", "LIVE", "Choice", "all_models", "choices", "link_names", "picker", "saved_as", "selected",
           "watch"]

LIVE = "live"  # the picker's key for the model being trained right now
DEFAULT = str(CHECKPOINT_DIR / "lenet5.pt")
PICKER_EVERY_S = 3.0  # with no news stream (plain `streamlit run`): how often a picker looks for a new run


@dataclass(frozen=True)
class Choice:
    key: str  # a checkpoint path, or LIVE for the model being trained right now
    name: str  # the checkpoint's name, e.g. "lenet5" or a run's "20261201-093000-lenet5-default"
    model: str  # lenet5 | lenet5-classic | mlp
    accuracy: float | None  # on the split it was evaluated on; None before the first epoch
    saved_run: bool = False  # one of the user's saved runs (not a shipped checkpoint)
    board: tuple[str, str] | None = None  # a design on the class's board: its nickname and design

    def label(self, t: Text) -> str:
        """What the picker shows, with the accuracy, in the session's language."""
        if self.key == LIVE:
            name = t("picker.live", model=self.model)
        elif self.board is not None:
            name = t("picker.board", nickname=self.board[0], design=self.board[1])
        else:
            name = t("picker.run", name=self.name) if self.saved_run else self.name
        return name + (f" · {self.accuracy:.2%}" if self.accuracy is not None else t("picker.no_accuracy"))


def choices() -> list[Choice]:
    """Shipped checkpoints, then the user's saved runs (newest first), the class's board (best
    first), then the live model."""
    found = []
    for paths, saved_run in ((ending_in(CHECKPOINT_DIR, ".pt"), False), (saved_runs(), True)):
        for path in paths:
            info = describe(path)
            if info is not None:
                found.append(Choice(key=str(path), name=path.stem, model=info[0], accuracy=info[1],
                                    saved_run=saved_run))
    found += [Choice(key=str(e.checkpoint()), name=e.name, model="design", accuracy=e.test_accuracy, saved_run=True,
                     board=(e.nickname, e.design))
              for e in ranked(read_board()) if describe(e.checkpoint()) is not None]  # a damaged one: not offered
    job = current_job()
    if job is not None:
        snap = job.snapshot()
        if snap.running and job.has_live_model() and snap.owner is None:  # not a class design: see tryit
            last = snap.epochs[-1]["eval_accuracy"] if snap.epochs else None
            found.append(Choice(key=LIVE, name=LIVE, model=snap.config.model, accuracy=last))
    return found


def link_names() -> dict[str, str]:
    """The models a lesson link may name (`checkpoint=`), each with its picker key: the saved
    checkpoints and runs; the first of a name wins."""
    return {c.name: c.key for c in reversed(choices()) if c.key != LIVE}


def _ended_run() -> str | None:
    """The checkpoint of the class's run, going or last ended, as a picker key; None before its first epoch."""
    job = current_job()
    saved = job.snapshot().checkpoint if job is not None else None
    return str(saved) if saved is not None else None


def _follow(key: str, keys: list[str], saved: str | None) -> str | None:
    """The key a session should be on now: "live" follows an ended run to its checkpoint (`saved`,
    _ended_run()'s); a deleted run falls back to the shipped lenet5."""
    if key == LIVE and LIVE not in keys and saved is not None:
        key = saved
    if key in keys:
        return key
    return DEFAULT if DEFAULT in keys else (keys[0] if keys else None)


def picker() -> None:
    """The sidebar's model picker (call it inside `with st.sidebar`); its choice is kept in
    st.session_state["model_key"]. Drawn by `watch()`, which keeps it fresh for sessions already open."""
    options = choices()
    keys = [c.key for c in options]
    wanted = st.session_state.get("model_picker", st.session_state.get("model_key", DEFAULT))
    if wanted not in keys and wanted != LIVE:  # what the browser still holds of an option now gone (its
        wanted = st.session_state.get("model_key", DEFAULT)  # label, in a push's rerun): the page's own record
    if st.session_state.pop("_after_live", False) and wanted == DEFAULT:
        wanted = LIVE  # the run this session followed ended before its checkpoint was listed: follow it now
    saved = _ended_run()  # a copy of the run, made once a page run: every page runs the picker
    current = _follow(wanted, keys, saved)
    if wanted == LIVE and current != LIVE and current != saved:
        st.session_state["_after_live"] = True  # shown lenet5 for now; the saved run once it is listed
    t = text()
    if current is None:
        st.warning(t("picker.none"))
        return
    labels = {c.key: c.label(t) for c in options}
    # A fixed key keeps one widget while its options change (a new run, "live" coming and going);
    # its state is set first, so "live" can follow an ended run to its checkpoint.
    st.session_state["model_picker"] = current
    st.session_state["model_key"] = st.selectbox(
        t("picker.label"), keys, key="model_picker", format_func=labels.__getitem__, help=t("picker.help"))
    if LIVE in labels and st.session_state["model_key"] != LIVE:  # a run started: say where to find it
        st.caption(t("picker.live_hint", label=labels[LIVE]))


def watch(shown: bool = True) -> None:
    """The picker (if `shown`), in a part of the sidebar that is drawn again at news of the class's
    run or saved runs (ui/common/news.py): a run begun, an epoch's accuracy, a run saved or deleted
    redraw the picker alone. The page runs again only when the model it uses changes ("live"
    followed its run to the checkpoint, or the user picked another), so an epoch's news costs
    thirty open tabs thirty small runs, not thirty pages: a class of 30 waited 1.8 s at p95 while
    each epoch reran every page (bench/classroom.py). The class's board is not its news: a design
    shows in the picker at the page's next run, and Build's own board keeps up by itself."""
    if shown:
        st.session_state["_picker_page_run"] = True
        follow(_part, name="picker", topics=("run", "runs"), every=PICKER_EVERY_S)


def _part() -> None:
    page_run = st.session_state.pop("_picker_page_run", False)  # else: the news (or the user) reran this part
    picker()
    used = st.session_state.get("model_key")
    if page_run:
        st.session_state["_page_model"] = used
    elif used != st.session_state.get("_page_model"):
        st.rerun()  # the page draws with another model now


def selected() -> tuple[nn.Module | None, Choice | None]:
    """The picked model (shared and read-only) and its entry; (None, None) if there is none."""
    options = choices()
    key = _follow(st.session_state.get("model_key", DEFAULT), [c.key for c in options], _ended_run())
    for choice in options:
        if choice.key == key:
            if key == LIVE:
                model = current_job().live_model()
                return (model, choice) if model is not None else (None, None)
            return load_saved(key), choice
    return None, None


def all_models() -> list[tuple[Choice, nn.Module]]:
    """Every saved checkpoint's model, for the Draw page's side-by-side view."""
    return [(c, load_saved(c.key)) for c in choices() if c.key != LIVE]


def saved_as(choice: Choice) -> tuple[str, float] | None:
    """(path, mtime) naming a saved model's file, for caches keyed on it; None for the live model."""
    return None if choice.key == LIVE else (choice.key, mtime(Path(choice.key)))
