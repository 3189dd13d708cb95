"""Lesson plans: a lesson the projector leads step by step (lead.py). A plan is a small TOML file,
an ordered list of steps; each step is a lesson link (ui/common/links.py's grammar, without the
host) and the one line the teacher reads out, and may ask the class a question:

    title = "What a convolution does to a digit"

    [[step]]
    link = "/explain?view=maps"
    line = "Each convolution turns one picture into several."

    [[step]]
    link = "/explain?view=maps"
    line = "How wide is conv2's output?"
    question = { kind = "number", ask = "size", layer = "conv2" }

The ready plans are docs/lessons/*.toml; a teacher's own are saved in the class's folder. The right
answer to a question is never written in the plan: `reveal()` works it out from the step itself
(the design's walk, the model's reading of the step's digit, the class board).
"""
from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import tomli_w

from ..designs import LENET5, check
from ..files import ROOT, ending_in, write_atomic
from ..messages import Message

__all__ = ["ASKS", "MAX_STEPS", "PAGES", "Plan", "PlanError", "Question", "Step", "generated", "plan_name",
           "plan_text", "read_plan", "ready_plans", "saved_plans", "save_plan", "walk_answer"]

READY = ROOT / "docs" / "lessons"  # the plans that ship with the app
PAGES = ("home", "train", "draw", "explain", "build", "class")  # a step's page: its link's path
ASKS = {  # a question's kind -> what its right answer is worked out from
    "number": ("size", "params", "flatten"),  # a layer's output width, a layer's parameters, the flatten size
    "digit": ("read",),  # what the step's model reads for the step's MNIST digit
    "choice": ("board", "params"),  # the design that reads best on the class board; the one with most parameters
}
MAX_STEPS = 50  # a lesson, not a course
MAX_TEXT = 2000  # a link or a line longer than this is not a plan's
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # a plan's name: its file's, and what a link could say


class PlanError(ValueError):
    """A plan that doesn't read; its Message says which step and why."""


@dataclass(frozen=True)
class Question:
    kind: str  # number | digit | choice
    ask: str  # what the right answer comes from: one of ASKS[kind]
    layer: str | None = None  # number size/params: the layer (conv2, pool1, fc1 …)
    choices: tuple[str, ...] = ()  # choice: the designs to choose from

    def as_dict(self) -> dict:
        found = {"kind": self.kind, "ask": self.ask}
        return found | ({"layer": self.layer} if self.layer else {}) | (
            {"choices": list(self.choices)} if self.choices else {})


@dataclass(frozen=True)
class Step:
    link: str  # the page and its lesson: "/explain?view=stepper&digit=7"
    line: str = ""  # what the teacher reads out
    question: Question | None = None

    @property
    def page(self) -> str:
        return urlsplit(self.link).path.strip("/") or "home"

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.link).query, keep_blank_values=True))

    def as_dict(self) -> dict:
        found = {"link": self.link, "line": self.line}
        return found | ({"question": self.question.as_dict()} if self.question else {})


@dataclass(frozen=True)
class Plan:
    name: str  # its file's name, without .toml
    title: str
    steps: tuple[Step, ...]


def read_plan(text: str, name: str) -> Plan:
    """A plan from its TOML. Raises PlanError saying which step and what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PlanError(Message("plan.toml", reason=str(err))) from None
    steps = raw.get("step")
    if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
        raise PlanError(Message("plan.steps", most=MAX_STEPS))
    title = raw.get("title", name)
    if not isinstance(title, str) or len(title) > MAX_TEXT:
        raise PlanError(Message("plan.title"))
    return Plan(name=name, title=title, steps=tuple(step_of(s, n) for n, s in enumerate(steps, 1)))


def step_of(raw: object, number: int) -> Step:
    """One [[step]] table as a Step; PlanError for one that isn't."""
    if not isinstance(raw, dict) or not isinstance(raw.get("link"), str) or not isinstance(raw.get("line", ""), str):
        raise PlanError(Message("plan.step", step=number))
    link, line = raw["link"].strip(), raw.get("line", "").strip()
    step = Step(link=link, line=line)
    if len(link) > MAX_TEXT or len(line) > MAX_TEXT or not link.startswith("/") or step.page not in PAGES:
        raise PlanError(Message("plan.link", step=number, pages=", ".join(PAGES)))
    if "question" in raw:
        step = Step(link=link, line=line, question=question_of(raw["question"], number))
    return step


def question_of(raw: object, number: int) -> Question:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str) or raw["kind"] not in ASKS \
            or raw.get("ask") not in ASKS[raw["kind"]]:
        raise PlanError(Message("plan.question", step=number,
                                asks="; ".join(f"{k}: {', '.join(a)}" for k, a in ASKS.items())))
    choices, layer = raw.get("choices", []) if raw["kind"] == "choice" else [], raw.get("layer")
    if raw["kind"] == "choice" and (not isinstance(choices, list) or not 2 <= len(choices) <= 6
                                    or any(check(str(c)).problem for c in choices)):
        raise PlanError(Message("plan.choices", step=number))
    if raw["kind"] == "number" and raw["ask"] in ("size", "params") and not (isinstance(layer, str) and layer):
        raise PlanError(Message("plan.layer", step=number))
    return Question(kind=raw["kind"], ask=raw["ask"], layer=layer, choices=tuple(str(c) for c in choices))


def plan_text(plan: Plan) -> str:
    """The plan as TOML, as read_plan reads it back."""
    return tomli_w.dumps({"title": plan.title, "step": [s.as_dict() for s in plan.steps]})


def plan_name(title: str) -> str:
    """A file name for a plan titled `title`: lower-case letters, digits and '-' (else "lesson")."""
    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-")
    return name if NAME.fullmatch(name) else "lesson"


def _plans(folder: Path) -> dict[str, Plan]:
    """Every plan in `folder` that reads, by name; one that doesn't is left out."""
    found = {}
    for path in sorted(ending_in(folder, ".toml")):
        try:
            found[path.stem] = read_plan(path.read_text(encoding="utf-8"), path.stem)
        except (PlanError, OSError, UnicodeDecodeError):
            continue
    return found


@functools.cache
def ready_plans() -> dict[str, Plan]:
    """The plans that ship with the app (docs/lessons/): read once, though the teacher's sidebar asks on every run."""
    return _plans(READY)


def saved_plans(folder: Path) -> dict[str, Plan]:
    """The plans a teacher saved in `folder` (a class's lessons/)."""
    return _plans(folder)


def save_plan(folder: Path, plan: Plan) -> Path:
    """Write `plan` as `folder`/<name>.toml (read back before it is kept: a plan saved is a plan that reads)."""
    if not NAME.fullmatch(plan.name):
        raise PlanError(Message("plan.name"))
    text = plan_text(plan)
    read_plan(text, plan.name)
    return write_atomic(Path(folder) / f"{plan.name}.toml", text.encode())


def walk_answer(question: Question, design: str | None) -> int | str | None:
    """A number question's answer, or a choice question's by parameters, from the walk of the
    step's design (LeNet-5's when it has none). None when the layer isn't in the design."""
    if question.kind == "choice":
        counts = [sum(r.params for r in check(c).rows) for c in question.choices]
        return question.choices[counts.index(max(counts))]
    rows = check(design or LENET5).rows
    if question.ask == "flatten":
        flat = [r for r in rows if r.kind == "Flatten"]
        return flat[0].out_shape[0] if flat else None
    row = next((r for r in rows if r.name.split(".")[-1] == question.layer), None)
    if row is None:
        return None
    return row.params if question.ask == "params" else row.out_shape[-1]


def generated(design: str | None) -> list[Question]:
    """The questions a design's walk can ask: each layer's output width and parameters, and the flatten size."""
    rows = check(design or LENET5).rows
    questions = [Question(kind="number", ask="flatten")] if any(r.kind == "Flatten" for r in rows) else []
    for row in rows:
        layer = row.name.split(".")[-1]
        if row.kind in ("Conv2d", "MaxPool2d", "AvgPool2d"):
            questions.append(Question(kind="number", ask="size", layer=layer))
        if row.params:
            questions.append(Question(kind="number", ask="params", layer=layer))
    return questions
