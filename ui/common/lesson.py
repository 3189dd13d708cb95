"""The session's lesson: the link it was opened with (links.py's grammar), read once into the
session on its first run, since Streamlit clears the query when the page changes; and what the
pages ask of it (a control hidden, the recipe, Explain's view and digit, Build's design)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import streamlit as st

from lenet.config import TrainConfig
from ui.common.classes import move_to, session_class
from ui.common.links import RECIPE, Lesson, class_of, query_of, read

__all__ = ["built", "current", "design", "digit", "draw_digit", "hidden", "hidden_settings", "keep_in_address",
           "recipe", "share_design", "start", "view"]


def start(checkpoints: Callable[[], Mapping[str, str]]) -> Lesson:
    """On a session's first run, read the link it was opened with and set the pages up from it;
    on every later run, the lesson read then. `checkpoints()` maps names a link may use to the
    model picker's keys: the class's own runs, so it is asked once the class is known."""
    if "_lesson" in st.session_state:
        return st.session_state["_lesson"]
    params = st.query_params.to_dict()
    move_to(class_of(params))
    checkpoints = checkpoints()
    lesson = read(params, checkpoints)
    st.session_state["_lesson"] = lesson
    if lesson.lang:
        st.session_state["lang"] = lesson.lang
    if lesson.checkpoint:
        st.session_state["model_key"] = st.session_state["model_picker"] = checkpoints[lesson.checkpoint]
    return lesson  # the recipe and Explain's digit are the widgets' own values: see ui/train/form.py


def keep_in_address() -> None:
    """Write the lesson back into the address bar when a page change has cleared it, so that a
    reload (F5) or a bookmark opens the lesson again rather than a bare page: a reload is a new
    session, and it reads only what the address says."""
    query = query_of(current())
    if query and st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def current() -> Lesson:
    """The session's lesson, in the class the session is in now (a teacher may have moved it)."""
    lesson = st.session_state.get("_lesson") or Lesson()
    code = session_class()
    return lesson if lesson.class_code == code else replace(lesson, class_code=code)


def hidden(control: str) -> bool:
    """Whether the lesson link hid this control."""
    return control in current().hide


def hidden_settings() -> set[str]:
    """The TrainConfig fields whose controls are hidden: they keep the link's values."""
    return {spec.name for name, spec in RECIPE.items() if name in current().hide}


def recipe() -> TrainConfig:
    """The Train form's starting recipe: the defaults, with what the link set."""
    return TrainConfig(**current().recipe)


def view() -> str | None:
    return current().view


def digit() -> int:
    return current().digit or 0


def draw_digit() -> int | None:
    """The digit the lesson asks Draw's students to draw: its `digit`, when it is one (0-9)."""
    found = current().digit
    return found if found is not None and found < 10 else None


def design() -> str | None:
    """The design the Build page opens with, when the link gave one."""
    return current().design


def share_design(spec: str, activation: str) -> None:
    """The design the Build page shows now, for Share this setup (drawn after the page)."""
    st.session_state["_built"] = (spec, activation)


def built() -> tuple[str, str] | None:
    """The design and activation the Build page showed last in this session, if any."""
    return st.session_state.get("_built")
