"""Lead the class: how fast a step the teacher opens reaches every following student, and whether
the class's answers to a step's question are counted exactly.

    python -m bench.lead [--students 60] [--wait 30]

A fresh server, started as `make run` starts it (a teacher key, an empty runs folder holding one
4-step plan in lessons/: Explain's walk; Explain with a number question, conv2's size; Draw a 3;
Build a design), as tests/browser/test_lead.py's. Every visitor is a Session speaking Streamlit's
websocket protocol (harness/session.py) with the cookie the server gave its page, so the server
does all its work and nothing renders. Each tab does what its browser does by itself
(bench/push.py's Tab): its page's one news stream (a student's with `here=follow`, as the page's
component asks for it, so the server counts it present and following) and each component's push
rerun when the stream's versions move, GRACE_S after the news, one request at a time.
- The teacher opens Train and signs in; N students open Draw and hold their streams open.
- The teacher turns Lead on (every student follows to Train: "step 0", reported apart), then waits
  until the projector shows "N of N following"; picks the plan (step 1), then presses Next for each
  later step. After each press it waits until every student has arrived, or --wait seconds: then
  the rest count as never.
- Step reach, per student and step: from sending the press (its BackMsg) to the end of that
  student's first script run that shows "Step k of 4" on the step's page: the push rerun, which the
  step's st.switch_page turns into a full run of the new page. p50 · p95 · max (nearest rank) over
  students × steps 1–4. Also "shown": to the arrival of the first element saying "Step k of 4" on the
  step's page (harness/session.py notes each element's arrival): the page's top, which the runs of all
  sessions draw before the rest of any page (lenet/classroom/turns.py), with the step's line and question.
- On the question's step every student sends an answer through its form (10 or 12; every third
  student then changes it to 14). Checked: answers.json holds exactly N answers to that step, with
  the expected tally, and the projector's histogram (its own push reruns) says "Answers: N" with
  the same bars. Also timed: Send my answer → the run that says it was kept.
- Errors: exceptions shown on any page, broken connections or streams, and the server's log.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.classroom import Browser, Tally, visit
from bench.push import opens_draw, reach_cell
from bench.stroke import cpu_s
from harness.servers import app_server
from harness.session import Run
from lenet.classroom.lead import ANSWERS, led
from lenet.classroom.plans import Plan, Question, Step, save_plan

KEY = "bench-lead-key"
DESIGN = "c6k3p1-m2-c16k3-m2-f120-f84"
PLAN = Plan(name="four-steps", title="Four steps", steps=(  # tests/browser/test_lead.py's
    Step(link="/explain", line="Follow the shapes down the network."),
    Step(link="/explain", line="Work it out with the formula.",
         question=Question(kind="number", ask="size", layer="conv2")),
    Step(link="/draw?digit=3", line="Everyone draws a 3."),
    Step(link=f"/build?design={DESIGN}", line="Smaller windows: what changes?"),
))
ASKING = 1  # the plan's step (from 0) with the question
FOLLOWING = re.compile(r"\*\*(\d+) of (\d+)\*\* following")  # the projector's line (en.toml lead.following)
TITLE = re.compile(r"Answers: (\d+)")  # the histogram's title (lead.answers)
OPEN_S = 180.0  # the longest the teacher waits for the students' Draw pages and streams
NUMBER, SEND = "number_input:Your answer (a whole number)", "button:Send my answer"


def first_answer(i: int) -> int:
    return 10 if i % 2 == 0 else 12


def second_answer(i: int) -> int | None:
    return 14 if i % 3 == 0 else None  # a third change their mind


def expected_tally(n: int) -> Counter[str]:
    return Counter(str(second_answer(i) or first_answer(i)) for i in range(n))


@dataclass
class Lesson:
    """What the bench notes as the class goes: presses, arrivals, the projector, the answers."""
    students: int
    runs: Path  # the server's runs folder (LENET_RUNS)
    wait_s: float  # how long a step may take to reach everyone
    pid: int = 0  # the server's process, whose CPU each step is charged
    tally: Tally = field(default_factory=Tally)
    target: tuple[int, str, str] | None = None  # (step number, its page's path, the text it shows) awaited now
    pressed: dict[int, float] = field(default_factory=dict)  # step number -> perf_counter of its press
    arrived: dict[int, dict[int, float]] = field(default_factory=dict)  # step -> student -> s after the press
    shown: dict[int, dict[int, float]] = field(default_factory=dict)  # the same, to its "Step k of 4" on screen
    following: tuple[int, int] | None = None  # the projector's "n of m following", as last drawn
    histogram: tuple[str, dict[str, int]] | None = None  # its title and bars, as last drawn
    answered: list[float] = field(default_factory=list)  # s, Send my answer -> "Your answer: v" shown
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # every student's stream is open
    asking: asyncio.Event = field(default_factory=asyncio.Event)  # the question is up: answer it
    over: asyncio.Event = field(default_factory=asyncio.Event)  # the lesson is over: the tabs close
    opened: int = 0  # students whose Draw and stream are open (or who failed before)
    answers_done: int = 0  # students done answering (or failed)
    serial: int | None = None  # the question's step, as lead.json numbers it
    tallied_s: float | None = None  # s from the last answer kept to the projector's histogram showing them all
    counted_all: bool = False  # the projector said "N of N following" after Lead on
    cpu: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # step -> CPU s: server, bench; wall

    def arrival(self, who: int, tab: Browser) -> Callable[[Run], None]:
        """A student's `seen`: notes the first run that shows the awaited step on its page."""
        def saw(run: Run) -> None:
            if self.target is None:
                return
            number, path, text = self.target
            s, got, shown = tab.s, self.arrived.setdefault(number, {}), self.shown.setdefault(number, {})
            on_step = bool(s.page) and s.page == s.pages.get(path)  # this run is of the step's page
            if who not in shown and on_step:  # the step's line: its page's top, drawn before the rest of it
                when = next((at for (kind, m), at in zip(run.elements, run.arrived, strict=True)
                             if kind == "markdown" and text in m.body), None)
                if when is not None and when > self.pressed[number]:
                    shown[who] = when - self.pressed[number]
            if who not in got and on_step and any(text in m.body for m in run.of("markdown")):
                got[who] = time.perf_counter() - self.pressed[number]
        return saw

    def projector(self, run: Run) -> None:
        """The teacher's `seen`: the projector's count of followers and its histogram, as last drawn."""
        for m in run.of("markdown"):
            if found := FOLLOWING.search(m.body):
                self.following = (int(found[1]), int(found[2]))
        for chart in run.of("plotly_chart"):
            spec = json.loads(chart.spec)
            title = str(spec.get("layout", {}).get("title", {}).get("text", ""))
            if TITLE.search(title):
                bars = spec["data"][0]
                self.histogram = (title, dict(zip(map(str, bars.get("x", [])), bars.get("y", []), strict=True)))


async def until(done: Callable[[], bool], wait_s: float) -> bool:
    """Wait until done() (polled every 20 ms), at most wait_s; whether it came."""
    end = time.perf_counter() + wait_s
    while not done():
        if time.perf_counter() >= end:
            return False
        await asyncio.sleep(0.02)
    return True


async def student(b: Browser, who: int, lesson: Lesson) -> None:
    """Open Draw with its stream; follow whatever comes (the tab's pushes); answer the question."""
    b.seen = lesson.arrival(who, b)
    try:
        await opens_draw(b)
    finally:
        lesson.opened += 1
        if lesson.opened == lesson.students:
            lesson.ready.set()
    try:
        await lesson.asking.wait()
        for value in (first_answer(who), second_answer(who)):
            if value is not None:
                await send_answer(b, value, lesson)
    finally:
        lesson.answers_done += 1
    await lesson.over.wait()
    b.until = 0.0  # the tab closes


async def send_answer(b: Browser, value: int, lesson: Lesson) -> None:
    """The form's submit, as the browser sends it: the number and the button, one rerun of the form's fragment."""
    async def submit() -> Run:
        s = b.s
        if SEND not in s.widgets:
            raise KeyError(f"no answer form on the page; its widgets: {sorted(s.widgets)}")
        return await s.rerun(s.fragments[s.widgets[SEND]], **{NUMBER: ("double_value", float(value)),
                                                                SEND: ("trigger_value", True)})
    sent = time.perf_counter()
    run, _ = await b.send(submit())
    kept = any(f"Your answer: **{value}**" in a.body for a in run.of("alert"))
    if kept:
        lesson.answered.append(time.perf_counter() - sent)
    else:
        lesson.tally.errors.append(f"answer {value} not acknowledged")


async def press(b: Browser, lesson: Lesson, number: int, target: tuple[str, str], **changes: tuple) -> Run:
    """The teacher's widget change, sent as its BackMsg: the moment step `number` is pressed. Then
    waits (at most --wait) for every student's arrival; returns the teacher's own run."""
    async def request() -> Run:
        lesson.target = (number, *target)
        lesson.pressed[number] = time.perf_counter()  # the socket is ours: the request goes now
        return await b.s.rerun(**changes)
    server, bench = cpu_s(lesson.pid), time.process_time()
    run, _ = await b.send(request(), full=True)
    await until(lambda: len(lesson.arrived.get(number, {})) >= lesson.students, lesson.wait_s)
    lesson.cpu[number] = (cpu_s(lesson.pid) - server, time.process_time() - bench,
                          time.perf_counter() - lesson.pressed[number])
    return run


def step_text(number: int) -> str:
    return f"Step {number} of {len(PLAN.steps)}"


async def teacher(b: Browser, lesson: Lesson) -> None:
    """Sign in on Train; once the students are there, lead them (`steps`)."""
    b.seen = lesson.projector
    try:
        await b.open("train")
        await b.send(b.s.rerun(**{"text_input:Teacher key": ("string_value", KEY),
                                  "button:Sign in": ("trigger_value", True)}), full=True)
        b.s.states.pop(b.s.widgets["text_input:Teacher key"], None)  # the field is emptied once checked
        await until(lesson.ready.is_set, OPEN_S)
        await steps(b, lesson)
    finally:
        lesson.asking.set()  # whatever happened, the students stop waiting
        lesson.over.set()
        b.until = 0.0


async def steps(b: Browser, lesson: Lesson) -> None:
    """Lead on; the projector counts everyone; the plan; Next to its end; the answers on the question's step."""
    await press(b, lesson, 0, ("train", "Following the projector"), **{"checkbox:Lead the class": ("bool_value", True)})
    n = lesson.students
    lesson.counted_all = await until(lambda: lesson.following == (n, n), lesson.wait_s)
    await press(b, lesson, 1, (PLAN.steps[0].page, step_text(1)),
                **{"selectbox:Lesson plan": ("string_value", PLAN.title)})
    for index in range(1, len(PLAN.steps)):
        await press(b, lesson, index + 1, (PLAN.steps[index].page, step_text(index + 1)),
                    **{"button:Next": ("trigger_value", True)})
        if index == ASKING:
            await answer_round(lesson)


async def answer_round(lesson: Lesson) -> None:
    """Every student answers; then the projector's histogram, pushed, should count them all."""
    now = led(lesson.runs)
    lesson.serial = now.serial if now is not None else None
    lesson.asking.set()
    await until(lambda: lesson.answers_done >= lesson.students, 4 * lesson.wait_s)
    want = (f"Answers: {lesson.students}", expected_tally(lesson.students))  # the count, and the bars
    done = time.perf_counter()
    if await until(lambda: lesson.histogram == want, lesson.wait_s):
        lesson.tallied_s = time.perf_counter() - done


async def lead(url: str, lesson: Lesson) -> None:
    await asyncio.gather(visit(url, math.inf, lesson.tally, lambda b: teacher(b, lesson)),
                         *(visit(url, math.inf, lesson.tally, lambda b, i=i: student(b, i, lesson))
                           for i in range(lesson.students)))


def counted(lesson: Lesson) -> tuple[list[str], bool]:
    """The check lines (answers.json, the projector's histogram, against the expected tally), and
    whether answers.json counted exactly."""
    want = expected_tally(lesson.students)
    try:
        stored = json.loads((lesson.runs / ANSWERS).read_text(encoding="utf-8")).get(str(lesson.serial), {})
    except (OSError, ValueError) as err:
        stored = {}
        lesson.tally.errors.append(f"answers.json: {err}")
    got = Counter(str(v) for v in stored.values())
    exact = len(stored) == lesson.students and got == want
    lines = [f"check: the projector showed {lesson.following} (n of m following) after Lead on: "
             + ("OK" if lesson.counted_all else "FAILED"),
             f"check: answers.json holds {len(stored)} answers to step serial {lesson.serial} (want "
             f"{lesson.students}), tally {dict(sorted(got.items()))} (want {dict(sorted(want.items()))}): "
             + ("OK" if exact else "FAILED")]
    title, bars = lesson.histogram or ("none", {})
    ok = title == f"Answers: {lesson.students}" and bars == want
    late = f"{lesson.tallied_s:.2f} s after the last answer" if lesson.tallied_s is not None else "never right"
    lines.append(f"check: the projector's histogram says {title!r}, bars {dict(sorted(bars.items()))} ({late}): "
                 + ("OK" if ok else "FAILED"))
    return lines, exact


def report(lesson: Lesson, machine: str, exact: bool) -> list[str]:
    """The markdown row of the whole run (steps 1 to 4; step 0, Lead on, apart)."""
    n, steps = lesson.students, range(1, len(PLAN.steps) + 1)
    reach = [lesson.arrived.get(k, {}).get(i) for k in steps for i in range(n)]
    shown = [lesson.shown.get(k, {}).get(i) for k in steps for i in range(n)]
    never = sum(t is None for t in reach)
    on = reach_cell([lesson.arrived.get(0, {}).get(i) for i in range(n)])
    sent = f"{reach_cell(lesson.answered)} ({len(lesson.answered)})"
    return ["| students | step shown p50 · p95 · max (steps 1–4) | its page drawn p50 · p95 · max | never "
            "| Lead on → Train p50 · p95 · max | answers counted | answer → kept p50 · p95 · max (answers sent) "
            "| errors | machine |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {n} | {reach_cell(shown)} | {reach_cell(reach)} | {never} of {len(reach)} | {on} "
            f"| {'exactly ' if exact else 'NOT '}{n} | {sent} | {len(lesson.tally.errors)} | {machine} |"]


def step_rows(lesson: Lesson) -> list[str]:
    """A row a step: its reach, and what the server and the bench spent from its press to its last arrival."""
    lines = ["| step | page | shown p50 · p95 · max | page drawn p50 · p95 · max "
             "| press → last page drawn: server CPU · bench CPU · wall |", "|---|---|---|---|---|"]
    for k in range(len(PLAN.steps) + 1):
        server, bench, wall = lesson.cpu.get(k, (math.nan,) * 3)
        lines.append(f"| {k} | {PLAN.steps[k - 1].link if k else '/train (Lead on)'} | "
                     f"{reach_cell([lesson.shown.get(k, {}).get(i) for i in range(lesson.students)])} | "
                     f"{reach_cell([lesson.arrived.get(k, {}).get(i) for i in range(lesson.students)])} | "
                     f"{server:.2f} · {bench:.2f} · {wall:.2f} s |")
    return lines


def machine() -> str:
    """As bench/classroom.py says it."""
    cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
               if line.startswith("model name"))
    return f"{len(os.sched_getaffinity(0))} cores, {cpu}, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--wait", type=float, default=30.0, help="seconds a step may take to reach every student")
    args = parser.parse_args()
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        save_plan(runs / "lessons", PLAN)
        lesson = Lesson(students=args.students, runs=runs, wait_s=args.wait)
        checks, exact = [], False
        try:
            with app_server(runs, env={"LENET_TEACHER_KEY": KEY}) as server:
                lesson.pid = server.pid
                asyncio.run(lead(server.url, lesson))
                checks, exact = counted(lesson)
        except RuntimeError as err:  # the server logged an exception (or never started): an error
            lesson.tally.errors.append(str(err)[:2000])
    print("\n".join(["", *report(lesson, machine(), exact), "", *step_rows(lesson), "", *checks,
                     f"check: errors {len(lesson.tally.errors)}: " + ("OK" if not lesson.tally.errors else "FAILED")]))
    for line in lesson.tally.errors[:5]:
        print("  ", line)


if __name__ == "__main__":
    main()
