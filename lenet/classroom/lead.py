"""A class led from the projector: the step the class is on, and the class's answers to its question.

The teacher's session writes the step (`start`, `move`, `pause`, `reveal`, `stop`) into the class's
folder, which every replica shares, and bumps the news "step"; each student's page waits on that
news (ui/lead/follow.py) and opens the step. A student's answer goes into the same folder, keyed on
their browser, and bumps "answers", which the projector's histogram waits on. Who is here and who
follows is presence.py's.

    lead.json       the step: its link and line, its question, the plan's place, paused, revealed
    answers.json    {step serial: {browser id: answer}}: no names, cleared with the class's data
"""
from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ..data import normalise, sample_digits
from ..files import write_atomic
from ..messages import Message
from ..predict import classify
from .board import Entry
from .news import bump, class_of
from .plans import Question, Step, walk_answer
from .store import mutex

__all__ = ["ANSWERS", "LEAD", "MAX_NUMBER", "Led", "answer", "answers", "clear_answers", "led", "move", "pause",
           "reveal", "right_answer", "start", "stop", "tally", "valid"]

LEAD = "lead.json"
ANSWERS = "answers.json"
MAX_NUMBER = 10**9  # a number answer: a layer's parameters are far fewer
_cache: dict[Path, tuple[tuple[int, int, int], Led | None]] = {}  # path -> (stat, what it held): 60 tabs read
_guard = threading.Lock()


@dataclass(frozen=True)
class Led:
    """The class's lesson as the projector leads it."""
    teacher: str  # the leading teacher's browser id: their own screens don't count as students
    serial: int  # grows with every new step: a student's page compares the one it opened
    step: Step
    plan: str | None = None  # the plan being followed, if any
    index: int | None = None  # the step's place in it, from 0
    total: int | None = None  # its number of steps
    paused: bool = False  # students see "Eyes on the projector" until the teacher resumes
    revealed: bool = False  # the question's answer is shown; answers are closed
    right: int | str | None = None  # the answer revealed, worked out once (right_answer) for every screen alike
    shown: tuple[Step, ...] = ()  # every step shown since Lead began, for "Save as a plan"

    def as_json(self) -> str:
        return json.dumps(asdict(self))


def _step(raw: dict) -> Step:
    question = raw.get("question")
    return Step(link=raw["link"], line=raw.get("line", ""),
                question=Question(**{**question, "choices": tuple(question.get("choices", ()))}) if question else None)


def _led(text: str) -> Led | None:
    try:
        raw = json.loads(text)
        return Led(**{**raw, "step": _step(raw["step"]), "shown": tuple(_step(s) for s in raw.get("shown", ()))})
    except (ValueError, TypeError, KeyError):
        return None  # a file from another version: no lead, the teacher starts it again


def led(folder: Path, fresh: bool = False) -> Led | None:
    """The class's lead now, or None when no one leads it. `fresh`: read the file whatever the cache
    says (a write reads what it changes: another replica may have written within a clock tick)."""
    path = Path(folder) / LEAD
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)  # each write_atomic is a new file: a new inode
    with _guard:
        cached = _cache.get(path)
    if cached is not None and cached[0] == stamp and not fresh:
        return cached[1]
    try:
        found = _led(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):  # bytes that are not text: a damaged file, no lead
        return None
    with _guard:
        _cache[path] = (stamp, found)
    return found


def _write(folder: Path, now: Led | None) -> Led | None:
    path = Path(folder) / LEAD
    if now is None:
        path.unlink(missing_ok=True)
    else:
        write_atomic(path, now.as_json().encode())
    bump("step", class_of(folder))
    return now


def start(folder: Path, teacher: str, step: Step, plan: str | None = None, index: int | None = None,
          total: int | None = None) -> Led:
    """Lead the class from `step` on (a new serial, whatever was led before)."""
    with mutex(f"lead:{folder}"):
        before = led(folder, fresh=True)
        serial = before.serial + 1 if before else 1
        return _write(folder, Led(teacher=teacher, serial=serial, step=step, plan=plan, index=index, total=total,
                                  shown=(step,)))


def move(folder: Path, step: Step, plan: str | None = None, index: int | None = None,
         total: int | None = None) -> Led | None:
    """The class goes to `step`: a new serial, answers open again. None if no one leads."""
    with mutex(f"lead:{folder}"):
        before = led(folder, fresh=True)
        if before is None:
            return None
        shown = before.shown if before.shown and before.shown[-1] == step else (*before.shown, step)
        return _write(folder, replace(before, serial=before.serial + 1, step=step, plan=plan, index=index,
                                      total=total, revealed=False, right=None, shown=shown[-100:]))


def _change(folder: Path, **changes: object) -> Led | None:
    with mutex(f"lead:{folder}"):
        before = led(folder, fresh=True)
        return None if before is None else _write(folder, replace(before, **changes))


def pause(folder: Path, paused: bool) -> Led | None:
    return _change(folder, paused=paused)


def reveal(folder: Path, right: int | str | None = None) -> Led | None:
    """Show the question's answer, `right` (right_answer's); from now on answers to this step are refused."""
    return _change(folder, revealed=True, right=right)


def stop(folder: Path) -> None:
    """No one leads the class: every student's page is their own again."""
    with mutex(f"lead:{folder}"):
        _write(folder, None)


def valid(question: Question, value: object) -> int | str | None:
    """`value` as an answer to `question`, or None if it can't be one."""
    if question.kind == "choice":
        return value if value in question.choices else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    top = 9 if question.kind == "digit" else MAX_NUMBER
    return value if 0 <= value <= top else None


def _read_answers(folder: Path) -> dict[str, dict[str, int | str]]:
    try:
        found = json.loads((Path(folder) / ANSWERS).read_text(encoding="utf-8"))
        return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def answer(folder: Path, serial: int, who: str, value: object) -> Message | None:
    """Keep `who`'s answer to step `serial`, in place of any earlier one. A Message says why not:
    the step moved on, its answer was revealed, it asks nothing, or the value isn't an answer."""
    now = led(folder)
    if now is None or now.serial != serial or now.step.question is None:
        return Message("lead.moved_on")
    if now.revealed:
        return Message("lead.closed")
    kept = valid(now.step.question, value)
    if kept is None:
        return Message("lead.not_an_answer")
    with mutex(f"answers:{folder}"):
        found = _read_answers(folder)
        found.setdefault(str(serial), {})[who] = kept
        write_atomic(Path(folder) / ANSWERS, json.dumps(found).encode())
    bump("answers", class_of(folder))
    return None


def answers(folder: Path, serial: int) -> dict[str, int | str]:
    """Each browser's answer to step `serial`."""
    return dict(_read_answers(folder).get(str(serial), {}))


def tally(given: dict[str, int | str]) -> Counter:
    """How many gave each answer."""
    return Counter(given.values())


def clear_answers(folder: Path) -> int:
    """Forget every answer the class gave; returns how many there were."""
    with mutex(f"answers:{folder}"):
        count = sum(len(v) for v in _read_answers(folder).values())
        (Path(folder) / ANSWERS).unlink(missing_ok=True)
    bump("answers", class_of(folder))
    return count


def right_answer(step: Step, model: nn.Module | None, board: list[Entry]) -> int | str | None:
    """The answer to the step's question, worked out, never typed: a number from the walk of the
    step's design; a digit as `model` (the step's, in eval mode, only read) reads the step's MNIST
    digit; a choice by the walk's parameters, or by the class board (None while none of the
    designs is on it)."""
    question = step.question
    if question is None:
        return None
    if question.kind == "number" or question.ask == "params":
        return walk_answer(question, step.query.get("design"))
    if question.kind == "digit":
        if model is None:
            return None
        digits, _ = sample_digits()
        index = step.query.get("digit", "0")
        index = int(index) if re.fullmatch(r"[0-9]{1,2}", index) and int(index) < len(digits) else 0
        return classify(model, normalise(torch.from_numpy(digits[index:index + 1]))).digit
    on_board = [e for e in board if e.design in question.choices]
    return max(on_board, key=lambda e: e.test_accuracy).design if on_board else None
