"""The Train page's recipe form, built from TrainConfig's settings: limits come from lenet/config.py,
the one place they are written; labels and help from the session's language table.

Plain widgets, not an st.form: each keeps its value under ui/common/recipe.py's KEY, so "Share this
setup" can put the recipe being edited into a link; a lesson link's recipe is each widget's
starting value. A hidden setting (a lesson link's `hide=`) is not drawn and keeps the link's value.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import streamlit as st

from lenet.classroom.jobqueue import JOBS
from lenet.classroom.jobs import JobBusy, new_run
from lenet.classroom.serving import offline
from lenet.classroom.state import Status
from lenet.config import TrainConfig, recipe_settings
from lenet.messages import Message
from lenet.settings import Setting
from ui.common import lesson
from ui.common.i18n import Text
from ui.common.recipe import KEY, from_widget, to_widget

__all__ = ["recipe_form", "start_form"]


def start_form(t: Text) -> None:
    """The form with the lesson link's recipe, and what a Start does: the run starts now, or goes
    next in line while a student's design trains."""
    if offline():  # MNIST can't be had now: said at once, in one line, rather than a Start that fails
        st.warning(t.msg(Message("data.offline")), icon=":material/cloud_off:")
    config = recipe_form(t, lesson.recipe(), hidden=lesson.hidden_settings())
    if config is None or offline():
        return
    try:
        started = JOBS.start_first(new_run(config))
        if started.snapshot().status is Status.QUEUED:  # a student's design is training: the teacher's goes next
            st.info(t("train.next_in_line", name=started.state.name), icon=":material/hourglass_top:")
    except (JobBusy, ValueError) as err:
        st.error(t.error(err))


def recipe_form(t: Text, defaults: TrainConfig, hidden: Collection[str] = (), columns: int = 4) -> TrainConfig | None:
    """Draw the form. Returns the recipe it describes when Start is pressed (not yet validated:
    the job does that), else None. `defaults` fills each widget the first time it is drawn."""
    specs = [s for s in recipe_settings() if s.name not in hidden]
    values = {}
    with st.container(border=True):
        cells = st.columns(columns)
        for i, spec in enumerate(specs):  # in field order, the last column taking any extra
            with cells[columns - 1 - (len(specs) - 1 - i) * columns // len(specs)]:
                values[spec.name] = _widget(t, spec, getattr(defaults, spec.name))
        start = st.button(t("train.start"), type="primary")
    return replace(defaults, **values) if start else None


def _widget(t: Text, spec: Setting, default: Any) -> Any:
    # The value goes in as the widget's own, not set into session_state first: the browser draws
    # a widget with its default and only then applies a value set that way, so a lesson link's
    # "epochs=4" showed 1 for a moment (and a Start pressed then trained 1). A keyed widget's
    # identity is its key alone, so passing its current value each run changes nothing else.
    key = KEY.format(spec.name)
    current = st.session_state.get(key, to_widget(spec, default))
    label, help_ = t.label(spec.name), t.help(spec.name)
    if spec.kind is bool:
        return st.checkbox(label, bool(current), key=key, help=help_)
    if spec.choices:
        options = ([None] if spec.optional else []) + list(spec.choices)
        return st.selectbox(label, options, options.index(current) if current in options else 0, key=key, help=help_,
                            format_func=lambda v: t("train.own") if v is None else v)
    kind = spec.kind
    step = kind(spec.step) if spec.step else kind(1) if kind is int else None
    value = st.number_input(label, kind(spec.low), kind(spec.high), current, key=key, step=step, help=help_,
                            format=_format(spec))
    return from_widget(spec, value)


def _format(spec: Setting) -> str | None:
    """Enough decimals to show one step: 0.015 with a 0.001 step is "%.4f"."""
    if spec.kind is int:
        return None
    return f"%.{max(2, 1 - math.floor(math.log10(spec.step or 0.01)))}f"
