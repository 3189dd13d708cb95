"""The Train page's recipe form, built from TrainConfig's settings: labels, help and limits come
from lenet/train.py, the one place they are written."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import streamlit as st

from lenet.settings import Setting, settings_of
from lenet.train import TrainConfig

OWN = "model's own"  # how the form shows None for a choice, e.g. the model's own activation


def recipe_form(defaults: TrainConfig, columns: int = 4) -> TrainConfig | None:
    """Draw the form. Returns the recipe it describes when Start is pressed (not yet validated:
    the job does that), else None."""
    specs = [s for s in settings_of(TrainConfig) if s.form]
    values = {}
    with st.form("recipe"):
        cells = st.columns(columns)
        for i, spec in enumerate(specs):  # in field order, the last column taking any extra
            with cells[columns - 1 - (len(specs) - 1 - i) * columns // len(specs)]:
                values[spec.name] = _widget(spec, getattr(defaults, spec.name))
        start = st.form_submit_button("Start training", type="primary")
    return replace(defaults, **values) if start else None


def _widget(spec: Setting, default: Any) -> Any:
    if spec.kind is bool:
        return st.checkbox(spec.label, value=default, help=spec.help)
    if spec.choices:
        options = ([None] if spec.optional else []) + list(spec.choices)
        return st.selectbox(spec.label, options, index=options.index(default), help=spec.help,
                            format_func=lambda v: OWN if v is None else v)
    kind = spec.kind
    shown = spec.high if default is None else default  # None ("all") is shown as the largest value
    step = kind(spec.step) if spec.step else kind(1) if kind is int else None
    value = st.number_input(spec.label, kind(spec.low), kind(spec.high), kind(shown), step=step, help=spec.help,
                            format=_format(spec))
    return None if spec.optional and value >= spec.high else value


def _format(spec: Setting) -> str | None:
    """Enough decimals to show one step: 0.015 with a 0.001 step is "%.4f"."""
    if spec.kind is int:
        return None
    return f"%.{max(2, 1 - math.floor(math.log10(spec.step or 0.01)))}f"
