"""The top of every page in a class: while the class is led, a following student's page opens each step
as it comes (pushed by the news "step"), says which step it is, and asks its question; *Pause* holds it
on a card. The projector shows the step, how many follow, and the answers coming in."""
from __future__ import annotations

import streamlit as st

from lenet.classroom.lead import Led, led
from lenet.classroom.presence import PRESENCE
from lenet.files import runs_dir
from ui.common.classes import session_class
from ui.common.i18n import Text
from ui.common.links import plain
from ui.common.news import HERE, follow
from ui.common.teacher import session_id
from ui.lead import question
from ui.lead.steps import LEADING, open_step

__all__ = ["FOLLOWING", "steered", "top"]

FOLLOWING = "_following"  # a student's choice: follow the projector (the default) or explore on their own
PAUSED = "_paused_seen"  # whether this page was last drawn held by Pause
STEERED = "_steered"  # whether this page was last drawn following a lead
POLL_S = 2.0  # with no news stream (plain `streamlit run`), how often a page looks for a new step


def top(t: Text, teaching: bool) -> bool:
    """Draw the lead's part of the page. True when the page must not be drawn: a following student's
    screen while the teacher has paused the class. A signed-in teacher's other screens (`teaching`)
    follow too, and are not counted as students."""
    if st.session_state.get(LEADING):
        st.session_state[HERE] = None  # the projector is not a student
        follow(_projector, t, name="lead", topics=("step", "answers", "here"), every=POLL_S)
        return False
    following = st.session_state.setdefault(FOLLOWING, True)
    st.session_state[HERE] = None if teaching else "follow" if following else "explore"
    now = led(runs_dir())
    st.session_state[STEERED] = steered = now is not None and following and now.teacher != session_id()
    st.session_state[PAUSED] = held = steered and now.paused
    follow(_student, t, name="lead", topics=("step",), every=POLL_S, grace=0.0)  # no student's action makes a step
    return held


def steered() -> bool:
    """This page follows the projector now: its menu is the teacher's, not drawn (Explore on my own frees it)."""
    return bool(st.session_state.get(STEERED))


def _student(t: Text) -> None:
    now = led(runs_dir())
    if now is None or now.teacher == session_id():  # not led, or this is the teacher's own other screen
        if st.session_state.get(STEERED):
            st.rerun(scope="app")  # the lead stopped: the page is the student's own again, menu and all
        return
    following = st.session_state[FOLLOWING]
    if following and now.serial != st.session_state.get("_step_seen"):  # the class moved on
        open_step(now.step, now.serial)  # this page becomes the step (the run ends here); its top says which
    if (now.paused and following) != st.session_state.get(PAUSED, False):
        st.rerun(scope="app")  # paused or resumed: the page is held or drawn again
    if now.paused and following:
        _card(t)
    elif following:
        _following(t, now)
    else:
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.markdown(t("lead.class_on", where=_where(t, now)))
            st.button(t("lead.follow_again"), key="lead-follow", on_click=_follow_again, icon=":material/cast:")


def _following(t: Text, now: Led) -> None:
    with st.container(border=True):
        _line(t, now)
        if now.step.question is not None:
            question.ask(t, now)


def _line(t: Text, now: Led) -> None:
    """Which step, its line, and the way out of following."""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(_heading(t, now))
        st.button(t("lead.explore"), key="lead-explore", on_click=_explore, icon=":material/explore:")


def _heading(t: Text, now: Led) -> str:
    """ "**Step 3 of 8** · its line", the line as plain text (a plan's words are not markdown)."""
    return f"**{_where(t, now)}**" + (f" · {plain(now.step.line)}" if now.step.line else "")


def _where(t: Text, now: Led) -> str:
    if now.index is not None and now.total:
        return t("lead.step_of", i=now.index + 1, n=now.total)
    return t("lead.step")


def _card(t: Text) -> None:
    with st.container(border=True, key="lead-paused"):
        st.header(t("lead.eyes"), anchor=False)
        st.caption(t("lead.eyes_why"))


def _explore() -> None:
    st.session_state[FOLLOWING] = False
    if st.session_state.get(HERE):  # a student's tab: the fragment's rerun opens its stream anew, saying so
        st.session_state[HERE] = "explore"


def _follow_again() -> None:
    st.session_state[FOLLOWING] = True
    if st.session_state.get(HERE):
        st.session_state[HERE] = "follow"
    st.session_state.pop("_step_seen", None)  # the page opens the class's step at once


def _projector(t: Text) -> None:
    now = led(runs_dir())
    if now is None:
        return
    following, here = PRESENCE.students(session_class(), now.teacher)
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(_heading(t, now))
            st.markdown(t("lead.following", n=following, m=here), width="content")
        if now.paused:
            st.warning(t("lead.paused"), icon=":material/pause_circle:")
        if now.step.question is not None:
            question.histogram(t, now)
