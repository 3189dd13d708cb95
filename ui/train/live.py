"""The Train page's live run: its name, status and Stop, the progress line, the curves, and (while it
trains) the live confusion matrix, accuracy per digit and conv1's latest frame. Each is a fragment
on a timer of its own; the run itself goes on in its training process (lenet/classroom/jobs.py)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from lenet.classroom.jobqueue import JOBS
from lenet.classroom.state import RunState, Status
from lenet.classroom.turns import TURNS
from ui.common.curves import curves
from ui.common.figures import STILL, confusion, per_class, split_of
from ui.common.i18n import Text
from ui.common.news import follow
from ui.common.teacher import Control, session_id
from ui.train.learning import frame

__all__ = ["current", "details", "running", "view"]

# The projector (a page that may stop the run) redraws the running charts every 0.8 s, so they move
# at least once a second even when a redraw is slow (each costs ~45 ms of the server's CPU, which
# the training shares). Every other page waits on the news: a run begun, an epoch, its points
# (lenet.classroom.news.LIVE_EVERY_S). IDLE_S: with no news stream, how often an idle page looks.
RUNNING_S, IDLE_S = 0.8, 2.0
# The live confusion matrix, accuracy per digit and filters change once a second at most, and a
# plotly chart whose data changed is drawn again whole in the browser: every 2 s is enough, and
# leaves the projector's browser time for the curves.
DETAILS_S = 2.0


def current() -> RunState | None:
    """The class's run as it is now: going, or its last; None before any."""
    job = JOBS.current()
    return job.snapshot() if job is not None else None


def running() -> bool:
    snap = current()
    return snap is not None and snap.running


def view(t: Text, who: Control) -> None:
    """The run: on the projector's timer while it trains, else at its news."""
    if running() and who.allowed:
        st.fragment(run_every=RUNNING_S)(_view)(t, who)
    else:
        follow(_view, t, who, name="train", topics=("run", "live") if running() else ("run",),
               every=RUNNING_S if running() else IDLE_S)


def details(t: Text, who: Control) -> None:
    """The live run's confusion matrix and accuracy per digit on the test slice, and its latest frame."""
    if not running():
        st.fragment(_details)(t)
    elif who.allowed:
        st.fragment(run_every=DETAILS_S)(_details)(t)
    else:
        follow(_details, t, name="train-details", topics=("live",), every=DETAILS_S)


def _view(t: Text, who: Control) -> None:
    snap = current()
    if snap is None:
        st.info(t("train.no_run") + (t("train.no_run_start") if who.allowed else "") + t("train.no_run_background"))
        curves(t, None)  # empty axes: the chart library loads now, not after Start
        return
    name = f"{snap.config.model}" + (f" ({snap.config.activation})" if snap.config.activation else "")
    top, button = st.columns([5, 1])
    snap = _stop_button(t, who, snap, button)
    top.markdown(f"**{name}** · {_status_of(t, who, snap)}")
    st.progress(snap.done, text=_progress_line(t, snap))
    if snap.status is Status.FAILED:
        st.error(t.msg(snap.message))
    elif snap.status is Status.FINISHED:
        st.success(t.msg(snap.message))
    elif not snap.running:
        st.warning(t.msg(snap.message))
    curves(t, snap)
    seen = st.session_state.get("_seen_job")
    st.session_state["_seen_job"] = (snap.name, snap.running)
    if seen is not None and seen != (snap.name, snap.running):
        st.rerun()  # a run started or ended: redraw the whole page (its results, its polling rate)


def _details(t: Text) -> None:
    snap = current()
    if snap is None or not snap.running:
        return
    split = t("words." + split_of(snap.epochs))
    if snap.live is not None:
        n = int(snap.live.confusion.sum())
        left, right = st.columns(2)
        left.plotly_chart(confusion(t, snap.live.confusion.numpy(), t("train.live_confusion", n=n, split=split)),
                          width="stretch", key="chart-live-confusion", config=STILL)
        right.plotly_chart(per_class(t, snap.live.per_class, t("train.live_digits", n=n)),
                           width="stretch", key="chart-live-digits", config=STILL)
    if snap.frames:
        frame(t, snap.frames[-1], live=True)


def _progress_line(t: Text, snap: RunState) -> str:
    if not snap.batches:
        return t.msg(snap.message)
    last = snap.batches[-1]
    eta = t("train.eta", s=snap.eta_s) if snap.eta_s is not None else ""
    where = (t("train.epoch_of", epoch=last.epoch, last=snap.last_epoch) if snap.first_epoch == 1 else
             t("train.epoch_continued", epoch=last.epoch, first=snap.first_epoch, last=snap.last_epoch))
    return where + t("train.progress", batch=last.batch, batches=last.batches, speed=last.samples_per_s) + eta


def _status_of(t: Text, who: Control, snap: RunState) -> str:
    """The run's state in a word or three, and who stopped it, once."""
    if snap.stopped_by is None or snap.status not in (Status.STOPPING, Status.STOPPED):
        return t("train.status." + snap.status.value)
    if snap.stopped_by == session_id():
        return t(f"train.{snap.status.value}_by_you")
    return t(f"train.{snap.status.value}_by_" + ("other" if who.allowed else "teacher"))


def _stop_button(t: Text, who: Control, snap: RunState, place: Any) -> RunState:
    """Stop, for whoever may press it; the run as it is after."""
    if snap.running and who.allowed and place.button(t("train.stop"), type="secondary", key="stop"):
        job = JOBS.current()
        job.stop(by=session_id())
        with TURNS.aside():  # waiting, the class's runs go on (lenet/classroom/turns.py)
            job.join(timeout=1.0)  # it stops between batches: show "stopped" in this same redraw
        return job.snapshot()
    if snap.running and not who.allowed:
        place.caption(t("train.only_teacher_stops"))
    return snap
