"""Lesson links: an address that opens LeNet Lab set up for today's lesson. This is their grammar,
plain functions of plain data (the session's lesson, read from its link, is lesson.py's).

    http://teacher:8501/train?activation=sigmoid&optimizer=sgd&lr=0.05&hide=picker,lang&lang=zh&note=...

The path picks the page (/train, /draw, /explain, /build, /class). The query sets the model to read with
(`checkpoint=lenet5`, or a saved run's name), the training recipe (every setting on the Train
page by its name; `batch` and `images` for batch size and training images), the controls to
hide (`hide=`, see HIDEABLE), the language (`lang=en|zh`), a short lesson note shown on top
(`note=`), on Explain the view and the MNIST digit (`view=stepper`, `digit=7`), and on Build the
design it opens with (`design=c6k3p1-m2-c16k3-m2-f120-f84`, with `activation=` as on Train),
and the class (`class=7b`: its own drawings, runs and board, see lenet/files.py). A link is
the only way a student's session gets a class: no widget of theirs changes it.

A bad value is ignored, with a Problem saying which and why; `read()` never raises.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from lenet.config import TrainConfig, recipe_settings
from lenet.data import SAMPLE_SIZE
from lenet.designs import check, parse, text_of
from lenet.files import is_class_code
from lenet.registry import resolve_options
from lenet.settings import Setting
from ui.common.i18n import LANGUAGES

__all__ = ["HIDEABLE", "KNOWN", "NOTE_CHARS", "RECIPE", "VIEWS", "Lesson", "Problem", "class_of", "link",
           "parse_number", "plain", "query_of", "read", "refused"]

VIEWS = ("maps", "stepper", "softmax", "map", "fool", "doubt")  # Explain's looks inside, in the order offered
URL_NAMES = {"batch_size": "batch", "limit": "images"}  # short names in a link; the rest go by their own
NOTE_CHARS = 300  # a note is a line or two on the projector, not a page


def _url_name(spec: Setting) -> str:
    return URL_NAMES.get(spec.name, spec.name)


RECIPE = {_url_name(s): s for s in recipe_settings()}  # a link's recipe keys, and the setting each sets
HIDEABLE: dict[str, tuple[str, ...]] = {  # the controls a link can hide, by where they are
    "all": ("menu", "picker", "lang", "share"),  # the sidebar: the pages, the model, the language, sharing
    "train": (*RECIPE, "saved", "compare"),  # each recipe setting, saved runs, compare runs
    "draw": ("pen", "upload", "collect", "naive", "models", "why", "fool"),
    "explain": ("calculator", "flatten", *VIEWS, "numbers"),
    "class": ("finetune", "export", "clear"),
    "build": ("preset", "typed", "activation", "convs", "fcs", "channels", "kernel", "padding", "stride",
              "pool", "units", "tryit", "board"),  # each menu of every block (`pool`: both pooling menus)
}
KNOWN = {"checkpoint", "hide", "lang", "note", "view", "digit", "design", "class", *RECIPE}


@dataclass(frozen=True)
class Problem:
    """One value of a link that was ignored, and why: the page shows it as a note."""
    key: str  # lesson.problem.<key> in the language tables
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lesson:
    checkpoint: str | None = None  # the model Draw and Explain read with: a checkpoint's or saved run's name
    recipe: dict[str, Any] = field(default_factory=dict)  # TrainConfig field -> value, only those the link set
    hide: frozenset[str] = frozenset()  # controls not drawn
    lang: str | None = None  # en | zh
    note: str = ""  # shown on top of every page
    view: str | None = None  # Explain's look inside
    digit: int | None = None  # Explain's MNIST test digit, 0..99
    design: str | None = None  # Build's design, as text_of() writes it
    class_code: str | None = None  # the class the session belongs to (lenet.files.CLASS_CODE)
    problems: tuple[Problem, ...] = ()  # what was ignored


def read(params: Mapping[str, str], checkpoints: Collection[str] = ()) -> Lesson:
    """A lesson from a link's query (one value per name). `checkpoints` are the names a link may
    pick. Every value is checked; a bad one is left out and a Problem says which and why."""
    problems: list[Problem] = []
    found: dict[str, Any] = {"recipe": {}}
    for name, raw in params.items():
        value = str(raw).strip()
        if name not in KNOWN:
            problems.append(Problem(key="unknown", values={"name": _shown(name)}))
        elif name in RECIPE:
            spec = RECIPE[name]
            parsed, problem = _setting_value(spec, value)
            if problem:
                problems.append(problem)
            else:
                found["recipe"][spec.name] = parsed
        elif name in ("checkpoint", "lang", "view"):  # one of a known few names
            allowed = {"checkpoint": checkpoints, "lang": LANGUAGES, "view": VIEWS}[name]
            if value in allowed:
                found[name] = value
            else:
                problems.append(Problem(key=name, values={"value": _shown(value)}))
        elif name == "hide":
            wanted = [h for h in (part.strip() for part in value.split(",")) if h]
            every = {h for names in HIDEABLE.values() for h in names}
            problems += [Problem(key="hide", values={"value": _shown(h)}) for h in wanted if h not in every]
            found["hide"] = frozenset(h for h in wanted if h in every)
        elif name == "note":
            if len(value) > NOTE_CHARS:
                problems.append(Problem(key="note", values={"n": NOTE_CHARS}))
            found["note"] = value[:NOTE_CHARS]
        elif name == "digit":
            number = parse_number(value, int)
            if number is not None and number < SAMPLE_SIZE:
                found["digit"] = number
            else:
                problems.append(Problem(key="digit", values={"value": _shown(value)}))
        elif name == "design":
            spec, problem = _design(value)
            problems += [problem] if problem else []
            found["design"] = spec
        elif name == "class":
            found["class_code"] = class_of(params)
            problems += [] if found["class_code"] else [Problem(key="class", values={"value": _shown(value)})]
    _check_model_options(found["recipe"], problems)
    return Lesson(**found, problems=tuple(problems))


SHOWN = 40  # the most of a link's value a note repeats: a 10 kB value must not fill the page


def _shown(text: str) -> str:
    """A link's value as a note repeats it: at most SHOWN characters, cut with "…"."""
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def class_of(params: Mapping[str, str]) -> str | None:
    """The link's class code, in lower case; None without one or for one that isn't a code."""
    code = str(params.get("class", "")).strip().lower()
    return code if is_class_code(code) else None


def refused(lesson: Lesson) -> Problem | None:
    """The link's class code was not a code: the session is in no class, and must not guess one."""
    return next((p for p in lesson.problems if p.key == "class"), None)


def _setting_value(spec: Setting, text: str) -> tuple[Any, Problem | None]:
    """The link's text as this setting's value, or the Problem with it."""
    name = _url_name(spec)
    try:
        if spec.kind is bool:
            value = {"1": True, "true": True, "yes": True, "on": True,
                     "0": False, "false": False, "no": False, "off": False}[text.lower()]
        elif spec.choices:
            value = None if spec.optional and text in ("", "default", "own") else text
        elif spec.optional and text == "all":
            value = None
        else:
            value = parse_number(text, spec.kind)
            if value is None:
                raise ValueError(text)
    except (KeyError, ValueError):
        return None, Problem(key="value", values={"name": name, "value": _shown(text), "setting": spec.name})
    if spec.problem(value) is not None:
        return None, Problem(key="value", values={"name": name, "value": _shown(text), "setting": spec.name})
    return value, None


def _design(text: str) -> tuple[str | None, Problem | None]:
    """The link's design in its one spelling, or the Problem with it: the walk's reason, so the
    page can say which layer fails and why (in the lesson's language)."""
    walk = check(text)
    if walk.problem is not None:
        return None, Problem(key="design", values={"value": _shown(text), "why": walk.problem})
    return text_of(parse(text)), None


WHOLE = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²" and "٣" are digits to str.isdigit() and int()
REAL = re.compile(r"[+-]?([0-9]{1,12}(\.[0-9]{0,12})?|\.[0-9]{1,12})([eE][+-]?[0-9]{1,3})?")


def parse_number(text: str, kind: type) -> int | float | None:
    """A link's number as `kind` (int or float), written the plain way: ASCII digits, a point, an
    exponent. None for anything else, whatever Python's int() or float() would make of it
    (superscripts, other scripts' digits, "nan", "1_000", spaces inside)."""
    pattern = WHOLE if kind is int else REAL
    return kind(text) if pattern.fullmatch(text) else None


def _check_model_options(recipe: dict[str, Any], problems: list[Problem]) -> None:
    """Drop an activation or pooling the chosen model has no such option for (the MLP has no pooling)."""
    model = recipe.get("model", TrainConfig().model)
    for option in ("activation", "pool"):
        if recipe.get(option) is None:
            continue
        try:
            resolve_options(model, **{option: recipe[option]})
        except ValueError:
            problems.append(Problem(key="option", values={"name": option, "value": recipe.pop(option), "model": model}))


def link(base: str, lesson: Lesson) -> str:
    """The address that opens `lesson` on the page `base` points to (scheme, host, path)."""
    query = query_of(lesson)
    return base + ("?" + urlencode(query) if query else "")


def query_of(lesson: Lesson) -> dict[str, str]:
    """A link's query for `lesson`: only what it sets, each value as a link writes it."""
    query: dict[str, str] = {}
    if lesson.checkpoint:
        query["checkpoint"] = lesson.checkpoint
    defaults = TrainConfig()
    for name, spec in RECIPE.items():
        value = lesson.recipe.get(spec.name, getattr(defaults, spec.name))
        if spec.name in lesson.recipe and value != getattr(defaults, spec.name):
            query[name] = _as_text(value)
    if lesson.view:
        query["view"] = lesson.view
    if lesson.digit is not None:
        query["digit"] = str(lesson.digit)
    if lesson.design:
        query["design"] = lesson.design
    if lesson.hide:
        query["hide"] = ",".join(sorted(lesson.hide))
    if lesson.lang:
        query["lang"] = lesson.lang
    if lesson.note:
        query["note"] = lesson.note[:NOTE_CHARS]
    if lesson.class_code:
        query["class"] = lesson.class_code
    return query


def _as_text(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, float) else str(value)


def plain(note: str) -> str:
    """A note as plain text inside markdown: a link's note shows what it says, never formatting or links."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", note)
