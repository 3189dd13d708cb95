"""Which class a session belongs to, as the sidebar says it, and the one control that changes it:
the teacher of every class moving their own session. A student's class comes from their link
(`class=7b`, read by lesson.py) and nothing on their page changes it.

Every folder the pages use follows the session's class: lenet.files.runs_dir() asks `asking()`.
"""
from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit, urlunsplit

import segno
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lenet.classroom.jobqueue import JOBS
from lenet.files import class_codes, follow_class, is_class_code, is_made, make_class, new_class_code, rename_class
from ui.common.i18n import Text
from ui.common.links import Problem

__all__ = ["asking", "join_card", "join_link", "move_to", "qr_code", "refuse", "session_class", "sidebar"]


def session_class() -> str | None:
    """The class of the session whose page is running: its link's, or where its teacher moved it."""
    return st.session_state.get("_class")


def move_to(code: str | None) -> None:
    """Put this session in class `code`: its link's, on its first run, or a teacher's move (students
    have no widget for it). Its links and its address say the new class from then on."""
    st.session_state["_class"] = code


def asking() -> str | None:
    """The class of the session whose page, fragment or callback is running; None in any other
    thread (a run's own threads were given their folders when it was made)."""
    return session_class() if get_script_run_ctx(suppress_warning=True) is not None else None


follow_class(asking)


def refuse(t: Text, problem: Problem | None) -> None:
    """A link whose class code isn't one opens nothing: guessing a class would mix two classes'
    drawings. The page says so and stops."""
    if problem is not None:
        st.error(t("classes.bad_link", **problem.values), icon=":material/link_off:")
        st.stop()


def sidebar(t: Text, can_move: bool, teaching: bool = False, can_rotate: bool = False) -> None:
    """The session's class; for its teacher (`teaching`) the link and QR code students join by,
    on the projector; for the teacher of every class (`can_move`) a way to another class or a new
    one, and (`can_rotate`, a class made here) a new code for this one."""
    code = session_class()
    st.caption(t("classes.in", code=code) if code else t("classes.none"))
    if teaching and code:
        join_card(t, code, can_rotate)
    if not can_move:
        return
    with st.expander(t("classes.move")), st.form("move-class", border=False):
        known = class_codes()
        st.selectbox(t("classes.known"), ["", *known], key="class_known", format_func=lambda c: c or "–")
        st.text_input(t("classes.new"), key="class_typed", max_chars=24, placeholder="7b")
        st.form_submit_button(t("classes.go"), on_click=_move)
        st.form_submit_button(t("classes.make"), on_click=_make, help=t("classes.make_help"))
        said = st.session_state.pop("_class_said", None)
        if said is not None:
            st.error(t("classes.bad_code", value=said))


def _move() -> None:
    """The form's callback: the typed code, else the picked one, else no class."""
    typed = (st.session_state.get("class_typed") or "").strip().lower()
    code = typed or st.session_state.get("class_known") or None
    if code is not None and not is_class_code(code):
        st.session_state["_class_said"] = typed[:40]
        return
    if code is not None and not is_made(code):
        make_class(code)  # only the teacher of every class has this form: going to a new code makes it
    move_to(code)
    st.session_state["class_typed"] = ""


def _make() -> None:
    """A new class with a join code no one guesses, made now, and this session moved into it."""
    code = new_class_code()
    make_class(code)
    move_to(code)


def join_link(code: str | None) -> str:
    """The address students open to join class `code` (None: a server without classes): this server
    as the teacher's browser has it."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    return urlunsplit((parts.scheme, parts.netloc, "/draw", urlencode({"class": code}) if code else "", ""))


def qr_code(link: str, scale: int) -> bytes:
    """`link` as a QR code, a PNG of `scale` pixels a module."""
    picture = io.BytesIO()
    segno.make(link, error="m").save(picture, kind="png", scale=scale, border=2)
    return picture.getvalue()


def join_card(t: Text, code: str, can_rotate: bool) -> None:
    """The class's code, link and QR code, big enough to read from the back of the room."""
    link = join_link(code)
    with st.expander(t("classes.join", code=code), icon=":material/qr_code_2:"):
        st.code(link, language=None, wrap_lines=True)
        st.image(qr_code(link, scale=6), caption=t("classes.join_caption"))
        if can_rotate:
            st.button(t("classes.rotate"), key="classes.rotate", on_click=_rotate, args=(code,),
                      help=t("classes.rotate_help"))
            said = st.session_state.pop("_rotate_said", None)
            if said:
                st.error(t(said))


def _rotate(code: str) -> None:
    """A new code for this class: its folder moves with it, and the old link opens nothing."""
    job = JOBS.current()
    if job is not None and job.state.class_code == code and not job.snapshot().status.ended:
        st.session_state["_rotate_said"] = "classes.rotate_busy"  # its run writes into the folder
        return
    new = new_class_code()
    rename_class(code, new)
    move_to(new)
