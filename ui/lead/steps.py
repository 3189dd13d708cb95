"""A step in a session: opening one (a following student's page, or the teacher's on Back and Next),
and the step the teacher's own page makes (the page the projector shows is the class's step)."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import streamlit as st

from lenet.classroom.lead import Led, led, move, start
from lenet.classroom.plans import Step
from lenet.classroom.turns import TURNS
from lenet.files import runs_dir
from ui.common import lesson
from ui.common.classes import session_class
from ui.common.links import query_of, read
from ui.common.picker import link_names
from ui.common.share import setup
from ui.common.teacher import session_id

__all__ = ["BASE", "LEADING", "open_step", "publish", "shown_link"]

LEADING = "lead_on"  # the teacher's Lead the class toggle
BASE = "_lead_base"  # the teacher's page as last published, or None: the next page run publishes nothing
BUILD = "build."  # Build's menus' keys (ui/build/menus.py): a room of that page alone, so not imported
KEPT_OWN = ("lang", "class")  # a student keeps their own language; no step moves a student to another class


def open_step(step: Step, serial: int) -> None:
    """Open `step` in this session: its page, set up by its lesson link, in the session's own language
    and class. Ends the run (st.switch_page), so call it where the page may change: a callback of the
    router's, or a fragment."""
    names = link_names() if "checkpoint" in step.query else {}  # listing the models costs ~2 ms a student
    found = read({k: v for k, v in step.query.items() if k not in KEPT_OWN}, names)
    own = st.session_state.get("lang")  # kept in the address too: a reload opens the step in the student's language
    st.session_state["_lesson"] = replace(found, lang=own, class_code=session_class(), problems=())
    if found.checkpoint:
        st.session_state["model_key"] = st.session_state["model_picker"] = names[found.checkpoint]
    if found.view:
        st.session_state["explain_view"] = found.view
    st.session_state.pop("explain_digit", None)  # drawn again from the lesson's digit
    if found.design:  # Build's menus are set from the lesson's design when the page draws them next
        for key in [k for k in st.session_state if k.startswith(BUILD)]:
            del st.session_state[key]
    st.session_state["_step_seen"] = serial
    with TURNS.aside():  # it waits for a flush: the others' runs go on meanwhile
        st.switch_page(f"pages/{step.page}.py")


def shown_link(place: str) -> str:
    """The page this session shows now, as a step's link: its path and its lesson (the model, Explain's
    view and digit, Build's design, the recipe on Train; the hidden controls and note it was opened with)."""
    now = lesson.current()
    query = query_of(replace(setup(place, now.hide, now.note), lang=None, class_code=None))
    return f"/{'' if place == 'home' else place}" + (f"?{urlencode(query)}" if query else "")


def publish(place: str) -> None:
    """The leading teacher's page has run: if it shows something other than the class's step, that is the
    class's step now (on the same page its line and question stay; on another, the step is the page)."""
    if not st.session_state.get(LEADING):
        return
    folder, here = runs_dir(), shown_link(place)
    now = led(folder)
    if now is None or now.teacher != session_id():  # Lead turned on, or taken over from another screen
        start(folder, session_id(), Step(link=here))
        st.session_state[BASE] = here
        st.rerun()  # the sidebar, drawn before the lead began, shows its controls now
    if st.session_state.get(BASE) is None:  # the first run after opening a plan's step: that is the step
        st.session_state[BASE] = here
        return
    if here != st.session_state[BASE]:
        move(folder, _moved(now, here), now.plan, now.index, now.total)
        st.session_state[BASE] = here


def _moved(now: Led, here: str) -> Step:
    same_page = Step(link=here).page == now.step.page
    return Step(link=here, line=now.step.line, question=now.step.question) if same_page else Step(link=here)
