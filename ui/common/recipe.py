"""The Train recipe as its widgets hold it. Each setting's widget keeps its value in
st.session_state["recipe.<name>"] (KEY): the Train page's form (ui/train/form.py) draws them, and
"Share this setup" (share.py) puts the recipe being edited into a link."""
from __future__ import annotations

from typing import Any

import streamlit as st

from lenet.config import TrainConfig, recipe_settings
from lenet.settings import Setting

__all__ = ["KEY", "current_recipe", "from_widget", "to_widget"]

KEY = "recipe.{}"  # the session-state key of each setting's widget


def current_recipe(defaults: TrainConfig) -> dict[str, Any]:
    """The recipe as the form shows it now (for a share link): each setting's widget value, or
    the default for one not drawn yet or hidden."""
    recipe = {}
    for spec in recipe_settings():
        value = st.session_state.get(KEY.format(spec.name), getattr(defaults, spec.name))
        recipe[spec.name] = from_widget(spec, value)
    return recipe


def to_widget(spec: Setting, value: Any) -> Any:
    """A setting's value as its widget holds it. A number input can't show None ("all of
    them"): it shows the largest value instead."""
    if spec.kind in (int, float) and not spec.choices and value is None:
        return spec.kind(spec.high)
    return spec.kind(value) if spec.kind in (int, float) and value is not None and not spec.choices else value


def from_widget(spec: Setting, value: Any) -> Any:
    """The setting's value from its widget's: the largest number of an optional setting is None."""
    if spec.kind in (int, float) and not spec.choices and spec.optional and value is not None and value >= spec.high:
        return None
    return value
