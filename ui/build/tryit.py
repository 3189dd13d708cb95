"""The Build page's Try it: the student's design trained under the class budget, their place in
line with an estimate, and their own live curve.

With a teacher key set, Try it queues the design on the server's one training queue (the
teacher's runs go first, one design per student); at home, with no key, it trains at once.
The job is kept in the session, so a rerun or another page finds it again. A design's run
offers no "live" model in the sidebar's picker (the teacher's runs do): each one coming and going
would rerun every open page, thirty designs in a row; its curve is here, and its model is on the
board once it has finished.
"""
from __future__ import annotations

import random

import streamlit as st

from lenet.classroom.board import eta_s, new_nickname, read_board, read_budget, try_design
from lenet.classroom.jobqueue import JOBS
from lenet.classroom.jobs import Job, JobBusy
from lenet.classroom.serving import offline
from lenet.classroom.state import RunState, Status
from lenet.messages import Message
from ui.common.curves import curves
from ui.common.i18n import Text
from ui.common.news import follow
from ui.common.teacher import control, keyed, may_write, session_id

JOB = "board.job"  # the session's design run
NICKNAME = "board.nickname"
# A student's run is redrawn at news of the line (a design joined, began, ended; the teacher's run),
# and while it trains at news of its points. With no news stream, it looks on a timer: each look
# is a script run on the server that trains it, so a class of 30 waiting in line looks every 10 s
# (the line moves a design at a time), and only the one whose design trains now every second.
WAITING_S, TRAINING_S = 10.0, 1.0


def try_it(t: Text, design: str, activation: str, possible: bool) -> None:
    """The budget, the nickname, the Try it button, and the student's run below them."""
    budget, who = read_budget(), control()
    teacher = who.allowed
    st.subheader(t("board.try_title"))
    st.caption(t("board.budget_line", images=budget.images, epochs=budget.epochs, seed=budget.seed,
                 params=budget.params, multiply_adds=budget.multiply_adds))
    if not budget.open:
        st.info(t("board.closed_teacher") if teacher else t.msg(Message("board.closed")), icon=":material/lock:")
    name_cell, button_cell = st.columns([3, 1], vertical_alignment="bottom")
    st.session_state.setdefault(NICKNAME, new_nickname(random.Random(session_id())))  # the browser's, tab after tab
    nickname = name_cell.text_input(t("board.nickname"), key=NICKNAME, max_chars=24, help=t("board.nickname_help"))
    pressed = button_cell.button(t("board.try"), type="primary", key="board.try",
                                 disabled=not possible or not may_write() or not (budget.open or teacher))
    if pressed and offline():  # MNIST can't be had now: said at once, rather than a run that fails
        st.warning(t.msg(Message("data.offline")), icon=":material/cloud_off:")
    elif pressed:
        try:
            st.session_state[JOB] = try_design(design, activation, nickname.strip(), session_id(), teacher=teacher,
                                               wait=keyed())
        except (JobBusy, ValueError) as err:
            st.error(t.error(err))
    job: Job | None = st.session_state.get(JOB)
    status = job.snapshot().status if job is not None else None
    every = None if status is None or status.ended else WAITING_S if status is Status.QUEUED else TRAINING_S
    if every is None:
        st.fragment(my_run)(t)
    else:
        follow(my_run, t, name="tryit", topics=("line", "run") if status is Status.QUEUED else ("line", "live"),
               every=every)


def my_run(t: Text) -> None:
    """The student's own design: in line, training (its curve), or done."""
    job: Job | None = st.session_state.get(JOB)
    if job is None:
        return
    snap = job.snapshot()
    st.markdown(t("board.yours", design=snap.config.design, activation=snap.config.activation))
    if snap.status is Status.QUEUED:
        waiting(t, job, snap)
    elif snap.running:
        st.progress(snap.done, text=t.msg(snap.message) + (t("train.eta", s=snap.eta_s) if snap.eta_s else ""))
    elif snap.status is Status.FINISHED:
        st.success(t("board.finished", accuracy=snap.epochs[-1]["eval_accuracy"]), icon=":material/trophy:")
    else:
        st.warning(t.msg(snap.message))
    if snap.batches:
        curves(t, snap, key="board")  # the student's own run, as the Train page draws it
    seen, now = st.session_state.get("_seen_design"), (snap.name, _phase(snap))
    st.session_state["_seen_design"] = now
    if seen is not None and seen[0] == now[0] and seen[1] != now[1]:
        st.rerun()  # it began or ended: the whole page again, for its polling rate and the board below


def _phase(snap: RunState) -> str:
    return "waiting" if snap.status is Status.QUEUED else "ended" if snap.status.ended else "training"


def waiting(t: Text, job: Job, snap: RunState) -> None:
    """The place in line, and an estimate from this server's last designs; a way out of the line."""
    place = JOBS.place(job)
    eta = eta_s(JOBS.ahead_of(job), snap, read_board(), read_budget())
    line = t("board.in_line", place=place or 1) + (t("board.eta", s=eta) if eta is not None else t("board.no_eta"))
    text, out = st.columns([4, 1], vertical_alignment="center")
    text.info(line, icon=":material/hourglass_top:")
    if out.button(t("board.leave"), key="board.leave"):
        job.stop(by=session_id())
        st.rerun()
