"""The app's words in English and 中文: one table per language, and the lookup every page uses.

    t = text()                      # this session's language
    st.title(t("draw.title"))
    st.error(t.error(err))          # an error lenet raised, in the session's language

The tables are ui/common/strings/en.toml and ui/common/strings/zh.toml. English also takes, under "msg.",
what lenet says itself (lenet.messages.ENGLISH) and, under "setting.<name>.", the training
settings' labels and help (lenet/config.py): those are written once, in lenet, for the CLI,
which stays English. zh.toml translates all of it. A key missing from a table shows as
⟦key⟧, which the tests look for on every page.
"""
from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st

from lenet.config import TrainConfig
from lenet.messages import ENGLISH, Message, message_of
from lenet.settings import Setting, settings_of

__all__ = ["LANGUAGES", "MISSING", "Text", "keys", "placeholders", "table", "text"]

LANGUAGES = {"en": "English", "zh": "中文"}
MISSING = "⟦{}⟧"  # what a key without a text shows: easy to spot on a page, and in a test
STRINGS = Path(__file__).resolve().parent / "strings"


@cache
def table(lang: str) -> dict[str, str]:
    """Every text of one language, by dotted key ("draw.title")."""
    with open(STRINGS / f"{lang}.toml", "rb") as f:
        texts = _flatten(tomllib.load(f))
    if lang == "en":  # what lenet says in English, written once there
        texts |= {f"msg.{key}": value for key, value in ENGLISH.items()}
        for s in settings_of(TrainConfig):
            texts |= {f"setting.{s.name}.label": s.label, f"setting.{s.name}.help": s.help}
    return texts


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def keys(lang: str) -> set[str]:
    return set(table(lang))


def placeholders(template: str) -> set[str]:
    """The names a template fills in: "{n:,} of {total}" -> {"n", "total"}."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


class Text:
    """The texts of one language: `t(key, **values)` fills a template in."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self._table = table(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        template = self._table.get(key)
        if template is None:
            return MISSING.format(key)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):  # a template that wants a value it wasn't given
            return MISSING.format(key)

    def msg(self, message: str) -> str:
        """A line lenet wrote (a Message) in this language; any other text as it is."""
        if not isinstance(message, Message):
            return str(message)
        values = {k: self.msg(v) if isinstance(v, Message) else v for k, v in message.values.items()}
        if "setting" in values:  # a setting's problem: its label and limits in this language
            spec = _setting(values["setting"])
            values |= {"name": self.label(spec.name), "limits": self.limits(spec)}
        return self(f"msg.{message.key}", **values)

    def error(self, err: BaseException) -> str:
        """What went wrong, in this language when lenet said it with a Message."""
        message = message_of(err)
        return self.msg(message) if message is not None else str(err)

    def label(self, setting: str) -> str:
        return self(f"setting.{setting}.label")

    def help(self, setting: str) -> str:
        return self(f"setting.{setting}.help")

    def limits(self, spec: Setting) -> str:
        """A setting's allowed values in words: "1 to 100", "adamw, adam or sgd"."""
        if spec.choices:
            return self("words.either", first=self("words.list_sep").join(spec.choices[:-1]), last=spec.choices[-1]) \
                if len(spec.choices) > 1 else spec.choices[0]
        if spec.low is not None and spec.high is not None:
            return self("words.range", low=f"{spec.low:g}", high=f"{spec.high:g}")
        return ""


@cache
def _setting(name: str) -> Setting:
    return next(s for s in settings_of(TrainConfig) if s.name == name)


@cache
def _text(lang: str) -> Text:
    return Text(lang)


def text() -> Text:
    """This session's texts (its language is st.session_state["lang"], "en" until chosen)."""
    return _text(st.session_state.get("lang", "en"))
