"""The Train page's saved runs: continue or delete one (the teacher), a line for each of the newest,
and Compare runs, their histories overlaid."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from lenet.checkpoints import CheckpointError, accuracy_of, load_checkpoint
from lenet.classroom.jobqueue import JOBS
from lenet.classroom.jobs import JobBusy, continued_run
from lenet.classroom.runs import delete_run, max_runs, saved_runs
from lenet.classroom.state import RunState
from lenet.files import runs_dir
from ui.common.figures import compare, metrics_in
from ui.common.i18n import Text
from ui.common.teacher import Control

__all__ = ["compare_section", "histories", "saved_runs_section"]


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


def saved_runs_section(t: Text, who: Control, snap: RunState | None) -> None:
    """The saved runs: continue or delete one (the teacher), and a line for each of the newest."""
    st.subheader(t("train.saved_runs"))
    runs = saved_runs()
    st.caption(t("train.saved_caption", cap=max_runs(), n=len(runs)))
    if runs and who.allowed:
        _continue_or_delete(t, runs, snap)
    elif runs:
        st.caption(t("train.teacher_continues"))
    for path in runs[:8]:
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError:
            continue
        accuracy = accuracy_of(ckpt)
        st.caption(t("train.saved_line", name=path.stem, model=ckpt["model"], epochs=len(ckpt["history"]),
                     accuracy=f"{accuracy:.2%}" if accuracy is not None else t("train.no_accuracy"))
                   + ("" if "optimizer" in ckpt else t("train.weights_only")))


def _continue_or_delete(t: Text, runs: list[Path], snap: RunState | None) -> None:
    pick, more, act = st.columns([3, 1, 2], vertical_alignment="bottom")
    chosen = pick.selectbox(t("train.run"), runs, format_func=lambda p: p.stem, key="saved_run")
    epochs = more.number_input(t("train.more_epochs"), 1, 100, 1, key="more_epochs")
    go_on, remove = act.columns(2)
    try:
        if go_on.button(t("train.continue"), help=t("train.continue_help"), key="continue"):
            JOBS.start_first(continued_run(chosen, int(epochs)))
            st.rerun()
        if remove.button(t("train.delete"), help=t("train.delete_help"), key="delete"):
            delete_run(chosen, keep=snap.checkpoint if snap and snap.running else None)
            st.rerun()
    except (JobBusy, ValueError, CheckpointError) as err:
        st.error(t.error(err))


def compare_section(t: Text) -> None:
    """The saved runs' histories overlaid, one metric at a time."""
    st.subheader(t("train.compare"))
    run_histories = histories(runs_dir())
    if not run_histories:
        st.caption(t("train.compare_empty"))  # no folder: a student's page never shows the server's paths
        return
    picked = st.multiselect(t("train.runs"), list(run_histories), default=list(run_histories)[:2],
                            help=t("train.runs_help"), key="compare_runs")
    shown = {name: run_histories[name] for name in picked}
    offered = metrics_in(shown)
    if offered:
        metric = st.radio(t("train.show"), offered, horizontal=True, key="compare_metric",
                          format_func=lambda m: t("chart.metric." + m))
        st.plotly_chart(compare(t, shown, metric), width="stretch")

