"""The sidebar's "Share this setup", and what a lesson link puts on top of every page: its note,
and a note for each value it had that was ignored."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lenet.config import TrainConfig
from ui.common import lesson
from ui.common.i18n import Text
from ui.common.links import HIDEABLE, NOTE_CHARS, RECIPE, Lesson, Problem, link, plain
from ui.common.picker import LIVE, selected
from ui.common.recipe import current_recipe


def button(t: Text, place: str) -> Callable[[], None]:
    """A popover that builds the link to this page as it is set up now: the model, the recipe
    (on Train), Build's design, Explain's view and digit, the language, and the controls ticked to
    hide. Returns what writes the link, for the router to call once the page has run (Build's
    design is the page's); the popover itself stays where it is, so it stays open across reruns."""
    with st.popover(t("share.button"), icon=":material/share:", width="stretch"):
        st.caption(t("share.caption"))
        controls = (*HIDEABLE["all"], *HIDEABLE.get(place, ()))
        st.markdown(t("share.hide"))
        hide = frozenset(c for c in controls if st.checkbox(_control(t, c), key=f"share-hide-{c}"))
        note = st.text_input(t("share.note"), max_chars=NOTE_CHARS, key="share-note",
                             placeholder=t("share.note_placeholder"))
        shown = st.empty()
        st.caption(t("share.copy"))
    return lambda: shown.code(link(_base(place), setup(place, hide, note)), language=None, wrap_lines=True)


def _control(t: Text, name: str) -> str:
    spec = RECIPE.get(name)
    return t.label(spec.name) if spec is not None else t("share.control." + name)


def setup(place: str, hide: frozenset[str], note: str) -> Lesson:
    """This session's setup as a Lesson: what a link needs to open it again."""
    now = lesson.current()
    _, choice = selected()
    recipe = current_recipe(lesson.recipe()) if place == "train" else now.recipe
    design = lesson.built() if place == "build" else None  # failed at 95003f1: Share on Build dropped it
    if design is not None:
        recipe = recipe | {"activation": design[1]}
    return Lesson(
        checkpoint=choice.name if choice is not None and choice.key != LIVE else None,
        design=design[0] if design is not None and design[0] else None,
        recipe={k: v for k, v in recipe.items() if v != getattr(TrainConfig(), k)},
        hide=hide, lang=st.session_state.get("lang"), note=note.strip(),
        view=st.session_state.get("explain_view") if place == "explain" else None,
        digit=st.session_state.get("explain_digit") if place == "explain" else None, class_code=now.class_code)


def _base(place: str) -> str:
    """This page's address as the browser has it (the host students typed), without its query."""
    url = st.context.url
    return url if url else f"http://localhost:8501/{'' if place == 'home' else place}"


def notes(t: Text) -> None:
    """The lesson's note, and what the link asked for that could not be done."""
    now = lesson.current()
    if now.note:
        st.info(plain(now.note), icon=":material/school:")
    if now.problems and not st.session_state.get("_notes_read"):
        with st.container(border=True):
            st.markdown(t("lesson.ignored"))
            for problem in now.problems:
                st.markdown("- " + _problem(t, problem))
            if st.button(t("lesson.dismiss"), key="dismiss-notes"):
                st.session_state["_notes_read"] = True
                st.rerun()


def _problem(t: Text, problem: Problem) -> str:
    values = dict(problem.values)
    if "setting" in values:  # a recipe value: say which setting, in this language, and what it allows
        spec = next(s for s in RECIPE.values() if s.name == values["setting"])
        values |= {"label": t.label(spec.name), "limits": t.limits(spec)}
    # t.msg: a value lenet said (a design's reason) in this language; any other value as it is
    return t(f"lesson.problem.{problem.key}", **{k: plain(t.msg(v)) for k, v in values.items()})
