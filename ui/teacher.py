"""Who may start, stop, continue and delete training runs.

With a teacher key set (the environment variable LENET_TEACHER_KEY, or `teacher_key` in
.streamlit/secrets.toml), only a session that has entered the key controls training; everyone
else watches the same run read-only and can still draw with the live model. With no key, the
app is open, for one person at home. The key travels only in a password field's form submit:
never in a URL, the session's state or a log, and it is compared in constant time.
"""
from __future__ import annotations

import hmac
import os
import uuid
from dataclasses import dataclass

import streamlit as st

from ui.i18n import text

ENV = "LENET_TEACHER_KEY"


@dataclass(frozen=True)
class Control:
    allowed: bool  # this session may start, stop, continue and delete runs
    line: str  # the key of the line that says who is in control, and why a control is missing
    env: str = ENV  # the variable that sets the key, which the open-mode line names


def teacher_key() -> str | None:
    """The configured key, or None: the environment first, then secrets.toml."""
    key = os.environ.get(ENV)
    if not key:
        try:
            key = st.secrets.get("teacher_key")
        except Exception:  # no secrets file, or one that doesn't parse: no key from there
            key = None
    return str(key) if key else None


def key_matches(entered: str, key: str) -> bool:
    """Compare in constant time, so the time taken says nothing about how much was right."""
    return hmac.compare_digest(entered.encode(), key.encode())


def control_for(key_set: bool, is_teacher: bool) -> Control:
    """The plain rule behind the page: who controls training, in words a class can read."""
    if not key_set:
        return Control(True, "teacher.open")
    if is_teacher:
        return Control(True, "teacher.you")
    return Control(False, "teacher.not_you")


def session_id() -> str:
    """An opaque id for this browser session, so a page can say "stopped by you"."""
    return st.session_state.setdefault("_session", uuid.uuid4().hex)


def control() -> Control:
    return control_for(teacher_key() is not None, bool(st.session_state.get("_teacher")))


def key_box() -> None:
    """The sidebar's teacher sign-in, when a key is set."""
    key = teacher_key()
    if key is None:
        return
    t = text()
    if st.session_state.get("_teacher"):
        st.sidebar.caption(t("teacher.signed_in"))
        return
    with st.sidebar.expander(t("teacher.box")), st.form("teacher", clear_on_submit=True, border=False):
        entered = st.text_input(t("teacher.key"), type="password", autocomplete="off", key="teacher_key")
        if st.form_submit_button(t("teacher.sign_in")):
            if key_matches(entered, key):
                st.session_state["_teacher"] = True
                st.rerun()
            st.error(t("teacher.wrong_key"))
