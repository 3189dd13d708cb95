"""Settings that describe themselves: each dataclass field carries its label, help and limits once.

    lr: float = setting(1.5e-2, "Learning rate (peak)", "peak of the one-cycle schedule", low=1e-6, high=10)

The CLI's arguments and the Train page's form are both built from `settings_of(TrainConfig)`,
and `Setting.problem` checks the same limits, so the three can never disagree.
"""
from __future__ import annotations

import functools
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from .messages import Message

__all__ = ["Setting", "setting", "settings_of"]


@dataclass(frozen=True)
class Setting:
    name: str  # the field's name, e.g. "batch_size"
    kind: type  # int, float, str or bool
    default: Any
    label: str  # what the Train form calls it, e.g. "Batch size"
    help: str  # one line for the form's tooltip and `--help`
    choices: tuple[str, ...] = ()  # the allowed values of a str setting
    low: float | None = None  # the smallest allowed number
    high: float | None = None  # the largest allowed number
    step: float | None = None  # the form's step for a number
    form: bool = True  # shown on the Train page
    cli: bool = True  # a `python -m lenet train` argument

    @property
    def optional(self) -> bool:
        """None is allowed, and means "the model's own" or "all of them"."""
        return self.default is None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def limits(self) -> str:
        """The allowed values in words, e.g. "1 to 100" or "adamw, adam or sgd"."""
        if len(self.choices) > 1:
            return ", ".join(self.choices[:-1]) + " or " + self.choices[-1]
        if self.choices:
            return self.choices[0]
        if self.low is not None and self.high is not None:
            return f"{_number(self.low)} to {_number(self.high)}"
        return ""

    def problem(self, value: Any) -> Message | None:
        """What is wrong with `value` for this setting, in a sentence; None if it is allowed.
        (The Message's `setting` value names the field, so the app can say it with its own label.)"""
        said = dict(name=self.label.lower(), setting=self.name, limits=self.limits, value=value)
        if value is None:
            return None if self.optional else Message("setting.unset", **said)
        if self.kind is bool:
            return None if isinstance(value, bool) else Message("setting.not_bool", **said)
        if self.choices:
            return None if value in self.choices else Message("setting.not_choice", **said)
        if self.kind is str:
            return None if isinstance(value, str) else Message("setting.not_text", **said)
        whole = self.kind is int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and value != int(value)):
            return Message("setting.not_whole" if whole else "setting.not_number", **said)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not (math.isfinite(value) and low <= value <= high):
            return Message("setting.out_of_range", **(said | {"value": _number(value)}))
        return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def setting(default: Any, label: str, help: str, **spec: Any) -> Any:
    """A dataclass field that describes itself; `spec` takes Setting's choices, low, high, step,
    form and cli."""
    return field(default=default, metadata={"setting": {"label": label, "help": help, **spec}})


@functools.cache  # read once per class: TrainConfig.validate() runs on every Start and every link
def settings_of(cls: type) -> tuple[Setting, ...]:
    """The Setting of every described field of dataclass `cls`, in field order."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in fields(cls):
        if "setting" in f.metadata:
            kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
            found.append(Setting(name=f.name, kind=kind, default=f.default, **f.metadata["setting"]))
    return tuple(found)
