"""The Train page's recipe form, built from TrainConfig's settings: limits come from lenet/train.py,
the one place they are written; labels and help from the session's language table.

Plain widgets, not an st.form: each keeps its value in st.session_state["recipe.<name>"], so
"Share this setup" can put the recipe being edited into a link; a lesson link's recipe is each
widget's starting value.
A hidden setting (a lesson link's `hide=`) is not drawn and keeps the link's value.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import streamlit as st

from lenet.config import TrainConfig
from lenet.settings import Setting, settings_of
from ui.i18n import Text

KEY = "recipe.{}"  # the session-state key of each setting's widget


def form_settings() -> list[Setting]:
    """The settings the Train page offers, in field order."""
    return [s for s in settings_of(TrainConfig) if s.form]


def recipe_form(t: Text, defaults: TrainConfig, hidden: Collection[str] = (), columns: int = 4) -> TrainConfig | None:
    """Draw the form. Returns the recipe it describes when Start is pressed (not yet validated:
    the job does that), else None. `defaults` fills each widget the first time it is drawn."""
    specs = [s for s in form_settings() if s.name not in hidden]
    values = {}
    with st.container(border=True):
        cells = st.columns(columns)
        for i, spec in enumerate(specs):  # in field order, the last column taking any extra
            with cells[columns - 1 - (len(specs) - 1 - i) * columns // len(specs)]:
                values[spec.name] = _widget(t, spec, getattr(defaults, spec.name))
        start = st.button(t("train.start"), type="primary")
    return replace(defaults, **values) if start else None


def current_recipe(defaults: TrainConfig) -> dict[str, Any]:
    """The recipe as the form shows it now (for a share link): each setting's widget value, or
    the default for one not drawn yet or hidden."""
    recipe = {}
    for spec in form_settings():
        value = st.session_state.get(KEY.format(spec.name), getattr(defaults, spec.name))
        recipe[spec.name] = _from_widget(spec, value)
    return recipe


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
    return _from_widget(spec, value)


def to_widget(spec: Setting, value: Any) -> Any:
    """A setting's value as its widget holds it. A number input can't show None ("all of
    them"): it shows the largest value instead."""
    if spec.kind in (int, float) and not spec.choices and value is None:
        return spec.kind(spec.high)
    return spec.kind(value) if spec.kind in (int, float) and value is not None and not spec.choices else value


def _from_widget(spec: Setting, value: Any) -> Any:
    if spec.kind in (int, float) and not spec.choices and spec.optional and value is not None and value >= spec.high:
        return None
    return value


def _format(spec: Setting) -> str | None:
    """Enough decimals to show one step: 0.015 with a 0.001 step is "%.4f"."""
    if spec.kind is int:
        return None
    return f"%.{max(2, 1 - math.floor(math.log10(spec.step or 0.01)))}f"
